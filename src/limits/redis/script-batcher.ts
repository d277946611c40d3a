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

/** A script defined on the client with defineCommand. */
export type ScriptName = 'tgReserve' | 'tgSettle';

interface Queued {
  script: ScriptName;
  args: string[];
  resolve: (reply: unknown) => void;
  reject: (err: unknown) => void;
}

/** Settlements of one organization merged into one script call at most; its script holds Redis ~10 µs each. */
export const MAX_SETTLE_BATCH = 64;

/** One settlement: its keys (its record first) and its section of the settle script's ARGV. */
export interface SettleSection {
  keys: string[];
  args: string[];
}

export class ScriptBatcher {
  /** By hash tag: a pipeline must stay on one cluster node. */
  private readonly queues = new Map<string, Queued[]>();
  /** Settlements waiting to be merged, by hash tag and time override, with their callers. */
  private readonly settles = new Map<string, { tag: string; override: string; sections: SettleSection[]; done: Array<{ resolve: () => void; reject: (err: unknown) => void }> }>();
  private scheduled = false;
  /** Writes sent whose replies have not all come back. */
  private inFlight = 0;

  constructor(private readonly client: RedisClient) {}

  /** Queues one reservation script call; resolves with its reply. */
  reserve(tag: string, args: string[]): Promise<unknown> {
    this.closeSettleBatches(tag); // a reservation queued after settlements goes after them
    return this.enqueue(tag, 'tgReserve', args);
  }

  /** Queues one settlement, merged with the organization's other settlements queued since its last reservation. */
  settle(tag: string, override: string, section: SettleSection): Promise<void> {
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

  private enqueue(tag: string, script: ScriptName, args: string[]): Promise<unknown> {
    const sent = this.push(tag, script, args);
    this.schedule();
    return sent;
  }

  private push(tag: string, script: ScriptName, args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(tag);
      if (!queue) this.queues.set(tag, (queue = []));
      queue.push({ script, args, resolve, reject });
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
    const keys: string[] = [];
    const args = [batch.override];
    for (const s of batch.sections) {
      keys.push(...s.keys);
      args.push(...s.args);
    }
    this.push(batch.tag, 'tgSettle', [String(keys.length), ...keys, ...args]).then(
      () => batch.done.forEach((d) => d.resolve()),
      (err: unknown) => batch.done.forEach((d) => d.reject(err)),
    );
  }

  private sendOne(q: Queued): void {
    this.inFlight++;
    (this.client as unknown as Record<ScriptName, (...args: string[]) => Promise<unknown>>)[q.script](...q.args)
      .finally(() => this.inFlight--)
      .then(q.resolve, q.reject);
  }

  private sendPipelined(queue: Queued[]): void {
    const pipeline = this.client.pipeline() as Pipeline & Record<ScriptName, (...args: string[]) => Pipeline>;
    for (const q of queue) pipeline[q.script](...q.args);
    this.inFlight++;
    pipeline.exec().finally(() => this.inFlight--).then(
      (results) => {
        queue.forEach((q, i) => {
          const [err, reply] = results?.[i] ?? [new Error('no reply in the pipeline')];
          if (err) q.reject(err);
          else q.resolve(reply);
        });
      },
      (err: unknown) => queue.forEach((q) => q.reject(err)),
    );
  }
}
