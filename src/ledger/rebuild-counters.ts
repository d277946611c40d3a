// Rebuilds counters from the ledger when the counter store starts empty (a restarted memory store, a
// flushed Redis), so a restart never hands out a fresh budget. Idempotent: `restore` keeps the larger
// of the counter and the ledger figure, so running it twice, or from several instances, is harmless.
import type { Policy } from '../config/policy.js';
import type { CounterStore } from '../limits/counter-store.js';
import type { Ledger } from './ledger.js';
import { ledgerUsageByLimit } from './limit-usage.js';

export interface RebuildReport {
  /** Counters raised to the ledger's figure (or already at least there). */
  limits: number;
  /** Calls left out, with their usage, because a money limit they count towards cannot price their model any more. */
  skippedCalls: number;
  skippedKeys: string[];
  /** The (key, route model) pairs whose calls were counted: their limits are the ones worth watching. */
  callers: Array<{ keyId: string; model: string }>;
  ms: number;
}

/** Raises every limit's counter to at least what the ledger shows for its current window. */
export async function rebuildCounters(ledger: Ledger, policy: Policy, store: CounterStore, now: () => number): Promise<RebuildReport> {
  const t0 = performance.now();
  const usage = await ledgerUsageByLimit(ledger, policy, now());
  const entries = usage.limits.filter((u) => u.used > 0).map((u) => ({ item: u.limit.item, used: u.used, ...(u.slots ? { slots: u.slots } : {}) }));
  await store.restore(entries);
  return { limits: entries.length, skippedCalls: usage.skippedCalls, skippedKeys: usage.skippedKeys, callers: usage.callers, ms: performance.now() - t0 };
}
