// Usage admitted against local counters while the shared store was unreachable, kept until it is added
// into the shared store. Each batch carries a fixed id, so a batch retried after a lost reply is a no-op.
import { randomUUID } from 'node:crypto';
import type { CounterItem, SettleUsage } from './counter-store.js';
import { amountFor } from './admission.js';
import { hashTagOf } from './redis/hash-tags.js';
import type { ReconcileEntry } from './redis/redis-store-options.js';
import { WindowCalculator, slotEpoch, windowLengthMs } from './windows.js';

/** The part of the shared store a replay needs. */
export interface ReconcileTarget {
  reconcile(batchId: string, entries: ReconcileEntry[]): Promise<void>;
}

// Keeps one script call's argument list reasonable.
const BATCH_ENTRIES = 200;

export class ReplayLog {
  /** Aggregated per counter key and window (or slot), so a long outage keeps one entry per window. */
  private readonly pending = new Map<string, ReconcileEntry>();
  private readonly batches: Array<{ id: string; entries: ReconcileEntry[] }> = [];
  private readonly windows: WindowCalculator;
  private readonly instance = randomUUID();
  private seq = 0;

  constructor(timezone: string) {
    this.windows = new WindowCalculator(timezone);
  }

  /** Remembers what a locally admitted request really used, in every limit it was checked against. */
  record(items: readonly CounterItem[], atMs: number, usage: SettleUsage): void {
    for (const item of items) {
      const amount = amountFor(item, usage.input, usage.output, usage.request, usage.factors);
      if (amount === 0) continue;
      const key = `${item.key}|${this.placement(item, atMs)}`;
      const entry = this.pending.get(key);
      if (!entry) this.pending.set(key, { item, atMs, amount });
      else {
        entry.amount += amount;
        // The later time drains a bucket less: counting slightly more is the safe side.
        entry.atMs = Math.max(entry.atMs, atMs);
      }
    }
  }

  /** Entries not yet in the shared store. */
  get size(): number {
    return this.pending.size + this.batches.reduce((n, b) => n + b.entries.length, 0);
  }

  /** Sends every batch, oldest first; stops at the first failure (kept for the next attempt). Returns entries sent. */
  async flush(target: ReconcileTarget): Promise<number> {
    this.seal();
    let sent = 0;
    while (this.batches.length > 0) {
      const batch = this.batches[0];
      await target.reconcile(batch.id, batch.entries);
      this.batches.shift();
      sent += batch.entries.length;
    }
    return sent;
  }

  /** Freezes pending entries into batches of one organization each: a batch's content never changes once it has an id. */
  private seal(): void {
    const byTag = new Map<string, ReconcileEntry[]>();
    for (const entry of this.pending.values()) {
      const tag = hashTagOf(entry.item.key);
      let list = byTag.get(tag);
      if (!list) byTag.set(tag, (list = []));
      list.push(entry);
    }
    this.pending.clear();
    for (const list of byTag.values()) {
      for (let i = 0; i < list.length; i += BATCH_ENTRIES) {
        this.batches.push({ id: `${this.instance}:${this.seq++}`, entries: list.slice(i, i + BATCH_ENTRIES) });
      }
    }
  }

  private placement(item: CounterItem, atMs: number): number {
    if (item.algorithm === 'fixed_window') return this.windows.bounds(item.window, atMs).startMs;
    if (item.algorithm === 'sliding_window') return slotEpoch(item.window, atMs);
    return 0;
  }
}
