// Sends the counter scripts of one turn of the event loop together. At saturation many calls end and
// begin in the same turn; one socket write per connection instead of one per script saves the gateway a
// system call, a command and a wake-up per request, and consecutive settlements become one script call.
// A reservation still is one script call of its own, so each stays all-or-nothing.
//
// Like Nagle's algorithm, a call made while nothing is waiting for Redis goes out at once: at a low rate
// no other call would join it, and waiting for the end of the turn would only add latency. While calls
// are in flight, new ones wait for the end of the turn (setImmediate: after the poll phase that read the
// requests, before the next one), and then leave together. Everything leaves in the order it was queued,
// so Redis sees the instance's commands in the order it issued them. A command sent outside the batcher
// must call flush() first, for the same reason.
//
// The calls of a turn are single ioredis commands written while their connections are corked (Node then
// writes them with one writev), not an ioredis pipeline: each pipeline defines its own `length` getter,
// which gives it a hidden class of its own in V8's old generation, and that class's getter holds the
// pipeline, its commands and their texts through every young collection until a full one. Under load
// the gateway promoted 4.0 KB per request instead of 0.44, and spent ~15% more CPU per request
// (docs/benchmarks-2026-12.md).
import type { Socket } from 'node:net';
import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-client.js';
import { isNoScript, ScriptArgs, ScriptCommand, type Script } from './script-call.js';
import { ChurnMap } from '../../util/churn-map.js';

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
  /** Calls waiting for the end of the turn, in the order they were made. */
  private queue: Queued[] = [];
  /** Settlements waiting to be merged (each one's keys and ARGV section), by hash tag and time override, with their callers. */
  private readonly settles = new ChurnMap<string, { tag: string; override: string; sections: ScriptArgs[]; done: Array<{ resolve: () => void; reject: (err: unknown) => void }> }>();
  private scheduled = false;
  /** Calls sent whose replies have not come back. */
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

  /** Sends everything queued now, in one write per connection. */
  flush(): void {
    this.scheduled = false;
    for (const key of [...this.settles.keys()]) this.closeSettleBatch(key);
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    const sockets = this.connections();
    for (const socket of sockets) socket.cork();
    try {
      for (const q of queue) this.sendOne(q);
    } finally {
      for (const socket of sockets) socket.uncork();
    }
  }

  private enqueue(tag: string, script: Script, args: ScriptArgs): Promise<unknown> {
    const sent = this.push(tag, script, args);
    this.schedule();
    return sent;
  }

  private push(tag: string, script: Script, args: ScriptArgs): Promise<unknown> {
    return new Promise((resolve, reject) => this.queue.push({ script, args, tag, resolve, reject }));
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
    const answered = (reply: unknown): void => {
      this.inFlight--;
      q.resolve(reply);
    };
    const failed = (err: unknown): void => {
      this.inFlight--;
      q.reject(err);
    };
    const command = this.command(q, false);
    this.send(command).then(answered, (err: unknown) => {
      // Redis no longer holds the script (a restart, SCRIPT FLUSH, a failover): the same call with its text.
      if (isNoScript(err)) {
        // The connection stayed open (a new one sends each script by its text first anyway): the calls
        // written behind this one may have run already, but the next call of each script written on it
        // goes by its text, so the calls written from now on are not answered NOSCRIPT.
        if (command.writtenTo) for (const s of [this.scripts.reserve, this.scripts.settle]) s.forget(command.writtenTo);
        this.send(this.command(q, true)).then(answered, failed);
      } else failed(err);
    });
  }

  /** The sockets the calls may be written to: the client's, or every cluster node's. */
  private connections(): Socket[] {
    const clients = this.client instanceof Cluster ? this.client.nodes('all') : [this.client];
    return clients.map((c) => c.stream as Socket | undefined).filter((s): s is Socket => s !== undefined);
  }

  /**
   * The call as ioredis sends it: EVALSHA (EVAL with the script's text if it is the script's first call on
   * the connection it is written to: see ScriptCommand), or EVAL after a NOSCRIPT.
   */
  private command(q: Queued, byText: boolean): ScriptCommand {
    if (byText) return new ScriptCommand(q.script.text(q.args, true), q.tag);
    return new ScriptCommand(q.script.text(q.args, false), q.tag, q.script, q.args);
  }

  private send(command: ScriptCommand): Promise<unknown> {
    this.client.sendCommand(command);
    return command.promise;
  }
}
