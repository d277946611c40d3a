// Sends the counter scripts of one turn of the event loop together. At saturation many calls end and
// begin in the same turn; one socket write (a pipeline) per organization instead of one per script saves
// the gateway a system call, a command and a wake-up per request, and consecutive settlements become one
// script call. A reservation still is one script call of its own, so each stays all-or-nothing.
//
// Like Nagle's algorithm, a call made while nothing is waiting for Redis goes out at once: at a low rate
// no other call would join it, and waiting for the end of the turn would only add latency. While calls
// are in flight, new ones wait for the end of the turn (setImmediate: after the poll phase that read the
// requests, before the next one), and then leave together. Everything leaves in the order it was queued,
// so Redis sees the instance's commands in the order it issued them. A command sent outside the batcher
// must call flush() first, for the same reason.
import type { Pipeline } from 'ioredis';
import type { RedisClient } from './redis-client.js';
import { isNoScript, ScriptArgs, ScriptCommand, type Script } from './script-call.js';

interface Queued {
  script: Script;
  args: ScriptArgs;
  tag: string;
  resolve: (reply: unknown) => void;
  reject: (err: unknown) => void;
}

/** Settlements of one organization merged into one script call at most; its script holds Redis ~10 µs each. */
export const MAX_SETTLE_BATCH = 64;

/** The two scripts every request calls. */
export interface BatchedScripts {
  reserve: Script;
  settle: Script;
}

export class ScriptBatcher {
  /** By hash tag: a pipeline must stay on one cluster node. */
  private readonly queues = new Map<string, Queued[]>();
  /** Settlements waiting to be merged (each one's keys and ARGV section), by hash tag and time override, with their callers. */
  private readonly settles = new Map<string, { tag: string; override: string; sections: ScriptArgs[]; done: Array<{ resolve: () => void; reject: (err: unknown) => void }> }>();
  private scheduled = false;
  /** Writes sent whose replies have not all come back. */
  private inFlight = 0;

  constructor(
    private readonly client: RedisClient,
    private readonly scripts: BatchedScripts,
  ) {}

  /** Queues one reservation script call; resolves with its reply. */
  reserve(tag: string, args: ScriptArgs): Promise<unknown> {
    this.closeSettleBatches(tag); // a reservation queued after settlements goes after them
    return this.enqueue(tag, this.scripts.reserve, args);
  }

  /** Queues one settlement, merged with the organization's other settlements queued since its last reservation. */
  settle(tag: string, override: string, section: ScriptArgs): Promise<void> {
    const key = `${tag} ${override}`;
    let batch = this.settles.get(key);
    if (!batch || batch.sections.length >= MAX_SETTLE_BATCH) {
      if (batch) this.closeSettleBatch(key);
      batch = { tag, override, sections: [], done: [] };
      this.settles.set(key, batch);
    }
    batch.sections.push(section);
    const b = batch;
    return new Promise<void>((resolve, reject) => {
      b.done.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Sends everything queued now. */
  flush(): void {
    this.scheduled = false;
    for (const key of [...this.settles.keys()]) this.closeSettleBatch(key);
    // A cluster client that is not ready (no slot map yet) holds a pipeline until it next connects, with
    // no command timeout running; single calls are refused at once (no offline queue). So calls go one
    // by one unless the client is ready.
    const pipelining = this.client.status === 'ready';
    for (const [tag, queue] of this.queues) {
      this.queues.delete(tag);
      if (queue.length === 1 || !pipelining) queue.forEach((q) => this.sendOne(q));
      else this.sendPipelined(queue);
    }
  }

  private enqueue(tag: string, script: Script, args: ScriptArgs): Promise<unknown> {
    const sent = this.push(tag, script, args);
    this.schedule();
    return sent;
  }

  private push(tag: string, script: Script, args: ScriptArgs): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(tag);
      if (!queue) this.queues.set(tag, (queue = []));
      queue.push({ script, args, tag, resolve, reject });
    });
  }

  private schedule(): void {
    if (this.inFlight === 0) return this.flush();
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private closeSettleBatches(tag: string): void {
    for (const [key, batch] of this.settles) if (batch.tag === tag) this.closeSettleBatch(key);
  }

  /** Turns a settlement batch into one queued settle script call (see SETTLE_LUA for its layout). */
  private closeSettleBatch(key: string): void {
    const batch = this.settles.get(key)!;
    this.settles.delete(key);
    const args = new ScriptArgs();
    args.arg(batch.override);
    for (const section of batch.sections) args.append(section);
    this.push(batch.tag, this.scripts.settle, args).then(
      () => batch.done.forEach((d) => d.resolve()),
      (err: unknown) => batch.done.forEach((d) => d.reject(err)),
    );
  }

  private sendOne(q: Queued): void {
    this.inFlight++;
    this.send(this.command(q, false))
      .catch((err: unknown) => (isNoScript(err) ? this.send(this.command(q, true)) : Promise.reject(err)))
      .finally(() => this.inFlight--)
      .then(q.resolve, q.reject);
  }

  private sendPipelined(queue: Queued[]): void {
    const pipeline = this.client.pipeline() as Pipeline;
    for (const q of queue) pipeline.sendCommand(this.command(q, false));
    this.inFlight++;
    pipeline.exec().finally(() => this.inFlight--).then(
      (results) => {
        queue.forEach((q, i) => {
          const [err, reply] = results?.[i] ?? [new Error('no reply in the pipeline')];
          // A script Redis did not hold is sent again by its text, on its own.
          if (isNoScript(err)) this.send(this.command(q, true)).then(q.resolve, q.reject);
          else if (err) q.reject(err);
          else q.resolve(reply);
        });
      },
      (err: unknown) => queue.forEach((q) => q.reject(err)),
    );
  }

  /** The call as ioredis sends it: EVALSHA, or EVAL with the script's text after a NOSCRIPT. */
  private command(q: Queued, byText: boolean): ScriptCommand {
    return new ScriptCommand(q.script.text(q.args, byText), q.tag);
  }

  private send(command: ScriptCommand): Promise<unknown> {
    this.client.sendCommand(command);
    return command.promise;
  }
}
