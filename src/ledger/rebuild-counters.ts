// Rebuilds counters from the ledger when the counter store starts empty (a restarted memory store, a
// flushed Redis), so a restart never hands out a fresh budget. Idempotent: `restore` keeps the larger
// of the counter and the ledger figure, so running it twice, or from several instances, is harmless.
import type { Policy } from '../config/policy.js';
import type { CounterStore } from '../limits/counter-store.js';
import type { Ledger } from './ledger.js';
import { ledgerUsageByLimit, type LimitUsage } from './limit-usage.js';

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

/**
 * Raises every limit's counter to at least what the ledger shows for its current window. `countersLost`: the
 * store starts empty (memory counters at start, a Redis that lost them), so a token bucket, whose level the
 * ledger gives only as a range, comes back at the most it can hold, and a sliding window slot by slot, each
 * slot's usage leaving the window when its calls do. A store that kept its counters has the better figures:
 * a bucket is raised to the least, and a sliding window's total is compared, not its slots: a call near a
 * slot's edge may sit in one slot in the ledger and another in the store, and raising slot by slot counted
 * it in both (seen after restarts in the soak, docs/soak.md). Rows carry the store's time of the admission
 * now, but a budget lease counts its calls at its grant, and rows written by older releases carry the call's
 * arrival on the gateway's clock.
 */
export async function rebuildCounters(ledger: Ledger, policy: Policy, store: CounterStore, now: () => number, countersLost = false): Promise<RebuildReport> {
  const t0 = performance.now();
  const usage = await ledgerUsageByLimit(ledger, policy, now());
  const figure = (u: LimitUsage): number => (countersLost ? (u.usedAtMost ?? u.used) : u.used);
  const entries = usage.limits
    .filter((u) => figure(u) > 0)
    .map((u) => ({ item: u.limit.item, used: figure(u), ...(u.slots && countersLost ? { slots: u.slots } : {}) }));
  await store.restore(entries);
  return { limits: entries.length, skippedCalls: usage.skippedCalls, skippedKeys: usage.skippedKeys, callers: usage.callers, ms: performance.now() - t0 };
}
