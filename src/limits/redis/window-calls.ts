// How every script call of one Redis store is given its window table: the edges of the windows around the
// instance's estimate of Redis time (item-args.ts). The instance clock only offers candidates; Lua decides
// with Redis TIME, and refuses (TGSKEW) when the instance is off by more than a window, so the skew is learnt
// from the refusal and the call sent once more. Also the rarer calls over many keys, a few hundred per script.
import type { Clock } from '../../util/clock.js';
import type { CounterItem } from '../counter-store.js';
import type { ItemArgs, WindowTable } from './item-args.js';
import { chunksByTag, hashTagOf } from './hash-tags.js';
import type { Reply } from './script-reply.js';

export type ScriptCall = (...args: string[]) => Promise<unknown>;

/** What a script over many items sends besides their keys and specs (see WindowCalls.perTag). */
export interface PerTagParts {
  keysAfter?: (tag: string) => string[];
  argsBefore?: (tag: string, group: number[]) => string[];
  argsOf?: (i: number) => string[];
}

// Restores and peeks of many limits go a few hundred keys per script (each key stands alone in them), so
// a large organization's never holds Redis for long: calls' scripts run in between.
const KEYS_PER_SCRIPT = 256;
const SKEW_ERROR = /^TGSKEW (\S+)/;

export class WindowCalls {
  /** Redis time minus the instance clock, learnt only when the instance is off by more than a window. */
  private skewMs = 0;

  constructor(
    private readonly args: ItemArgs,
    private readonly clock: Clock,
    /** Tests only: the time every script uses instead of Redis TIME (RedisStoreOptions.timeOverride). */
    private readonly timeOverride: Clock | undefined,
    /** Sends what was queued before (the batcher's reservations and settlements) ahead of a rarer call. */
    private readonly flushQueued: () => void,
  ) {}

  /** The time override argument every script takes ('' for Redis TIME). */
  override(): string {
    return this.timeOverride ? String(this.timeOverride.now()) : '';
  }

  /** The instance's estimate of Redis time now. */
  estimate(): number {
    return this.clock.now() + this.skewMs;
  }

  /** `ms` of the instance clock, in Redis time as far as the instance knows it. */
  inRedisTime(ms: number): number {
    return ms + this.skewMs;
  }

  /**
   * Runs a script with the window table around the instance's estimate of Redis time; when the instance
   * clock is off by more than a window, learns the skew from the refusal and retries once.
   */
  async withWindows(call: (windows: WindowTable) => Promise<unknown>, items: readonly CounterItem[]): Promise<[Reply, WindowTable]> {
    for (const item of items) this.args.spec(item); // registers their window slots before the table is built
    let table = this.args.windows(this.estimate());
    try {
      return [(await call(table)) as Reply, table];
    } catch (err) {
      const m = SKEW_ERROR.exec((err as Error).message);
      if (!m) throw err;
      this.skewMs = Number(m[1]) - this.clock.now();
      table = this.args.windows(this.estimate());
      return [(await call(table)) as Reply, table];
    }
  }

  /**
   * `script` over `items`, a few hundred keys of one organization per call (KEYS_PER_SCRIPT), each sent after
   * what was queued before it. KEYS: the group's keys, then `keysAfter(tag)`. ARGV: the time override, the
   * window table, `argsBefore(tag, group)`, then `argsOf(i)` per item (its spec by default). `onReply`
   * gets each call's reply, with the items' indexes in it and the window table it was sent with.
   */
  async perTag(script: ScriptCall, items: readonly CounterItem[], parts: PerTagParts, onReply?: (reply: Reply, group: number[], table: WindowTable) => void): Promise<void> {
    for (const group of chunksByTag(items, (item) => item.key, KEYS_PER_SCRIPT)) {
      const tag = hashTagOf(items[group[0]].key);
      const keys = [...group.map((i) => items[i].key), ...(parts.keysAfter?.(tag) ?? [])];
      const [reply, table] = await this.withWindows(
        (windows) => {
          const args = [String(keys.length), ...keys, this.override(), windows.arg, ...(parts.argsBefore?.(tag, group) ?? [])];
          for (const i of group) args.push(...(parts.argsOf?.(i) ?? [this.args.spec(items[i])]));
          this.flushQueued();
          return script(...args);
        },
        group.map((i) => items[i]),
      );
      onReply?.(reply, group, table);
    }
  }
}
