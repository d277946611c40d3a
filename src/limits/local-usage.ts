// Usage a fail-open instance admitted against local counters that its last reading of the shared store
// may not include yet. The next outage's local counters start from it too, so a false alarm (a timeout the
// PING did not confirm) or a short recovery never hands out a limit's share a second time.
import { amountFor } from './admission.js';
import type { CounterItem, LimitState, SettleUsage } from './counter-store.js';

interface LocalUsage {
  item: CounterItem;
  /** Reserved by local reservations not settled yet. */
  open: number;
  /** Settled, waiting in the replay log. */
  unsent: number;
  /** Added to the shared store, not yet in a reading sent after that. */
  sent: number;
  /** The flush that sent `sent`: readings sent after it completed include it. */
  sentEpoch: number;
  /** The latest local admission. */
  atMs: number;
  /** When the local window of that admission ends (fixed windows). */
  resetAtMs: number;
}

/** Seeds one item of a new outage's local counters; false when nothing of `used` is still counted. */
export type SeedLocal = (item: CounterItem, used: number, atMs: number, resetAtMs: number) => boolean;

export class LocalUsageLog {
  private readonly byKey = new Map<string, LocalUsage>();
  private completedFlushes = 0;

  /** Flushes of the replay log completed so far: a reading sent now includes what they sent. */
  get flushes(): number {
    return this.completedFlushes;
  }

  /** A local admission holding `reserved[i]` in `items[i]` until it settles. */
  admitted(items: CounterItem[], reserved: number[], atMs: number, states: LimitState[]): void {
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      let u = this.byKey.get(item.key);
      if (!u) this.byKey.set(item.key, (u = { item, open: 0, unsent: 0, sent: 0, sentEpoch: 0, atMs, resetAtMs: 0 }));
      u.open += reserved[i];
      u.atMs = atMs;
      u.resetAtMs = Math.max(u.resetAtMs, states[i].resetAtMs);
    }
  }

  /** That admission settled with `usage`: its hold becomes usage waiting for the replay log's flush. */
  settled(items: CounterItem[], reserved: number[], usage: SettleUsage): void {
    for (let i = 0; i < items.length; i++) {
      const u = this.byKey.get(items[i].key);
      if (!u) continue;
      u.open = Math.max(0, u.open - reserved[i]);
      u.unsent += amountFor(items[i], usage.input, usage.output, usage.request, usage.factors);
    }
  }

  /**
   * Call in the same tick as the replay log seals what it sends; call the function it returns once that
   * flush completed: the usage waiting until now is then in the shared store.
   */
  startFlush(): () => void {
    const sending = [...this.byKey.values()].filter((u) => u.unsent > 0).map((u) => [u, u.unsent] as const);
    return () => {
      const epoch = ++this.completedFlushes;
      for (const [u, amount] of sending) {
        u.unsent = Math.max(0, u.unsent - amount);
        u.sent += amount;
        u.sentEpoch = epoch;
      }
    };
  }

  /** A reading of `key` sent when `flushes` flushes had completed includes what those flushes sent. */
  sawReading(key: string, flushes: number): void {
    if (this.byKey.size === 0) return;
    const u = this.byKey.get(key);
    if (u && u.sent > 0 && u.sentEpoch <= flushes) {
      u.sent = 0;
      if (u.open === 0 && u.unsent === 0) this.byKey.delete(key);
    }
  }

  /** Adds what the shared store may not have yet to a new outage's local counters; forgets what is over. */
  seed(add: SeedLocal): void {
    for (const [key, u] of this.byKey) {
      const counted = add(u.item, u.open + u.unsent + u.sent, u.atMs, u.resetAtMs);
      if (!counted && u.open === 0 && u.unsent === 0) this.byKey.delete(key);
    }
  }
}
