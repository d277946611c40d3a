// Rebuilds counters from the ledger when the counter store starts empty (a restarted memory store, a
// flushed Redis), so a restart never hands out a fresh budget. Idempotent: `restore` keeps the larger
// of the counter and the ledger figure, so running it twice, or from several instances, is harmless.
import type { Policy } from '../config/policy.js';
import type { CounterStore } from '../limits/counter-store.js';
import type { Ledger } from './ledger.js';
import { countedInLedger } from './held-in-ledger.js';
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
 * a bucket is raised to the least, and a sliding window by no more than its total is short
 * (RestoreEntry.kept): a call near a slot's edge may sit in one slot in the ledger and another in the
 * store, and raising slot by slot counted it in both (seen after restarts in the soak, docs/soak.md). Rows
 * carry the store's time of the admission now, but a budget lease counts its calls at its grant, and rows
 * written by older releases carry the call's arrival on the gateway's clock.
 */
export async function rebuildCounters(ledger: Ledger, policy: Policy, store: CounterStore, now: () => number, countersLost = false): Promise<RebuildReport> {
  const t0 = performance.now();
  // Calls the store still holds in flight whose rows are in the ledger, looked up before the ledger's figures
  // are read, so that every row found is in them: a row written in between (its settlement on its way) is
  // then in the figures and still held, counted twice at worst (over), never taken off a figure without it.
  const counted = await countedInLedger(ledger, policy, store);
  const usage = await ledgerUsageByLimit(ledger, policy, now());
  // A store that kept its counters holds this instance's calls in flight too, which the ledger does not have
  // yet: compared with the ledger alone, their reservations hid usage the counter lacks (a reload's rebuild
  // after the old config's calls ended, while the new config's were under way), and once they settled below
  // what they reserved, the limit had that usage's room again. A store that lost its counters places its
  // reservations in flight back itself.
  // Only what the store does not count itself: Redis keeps what every gateway's reservations hold apart
  // (lua-held-index.ts), so that other gateways' reservations do not hide usage either.
  const items = usage.limits.map((u) => u.limit.item);
  const heldOf = store.restoreHeld?.bind(store) ?? store.held?.bind(store);
  const held = countersLost || !heldOf ? undefined : await heldOf(items);
  // All of this instance's, for a store that cannot tell calls in flight apart this time (RestoreEntry.wholeUsed).
  const heldAll = countersLost || !store.restoreHeld || !store.held ? undefined : await store.held(items);
  const figure = (u: LimitUsage, i: number): number => (countersLost ? (u.usedAtMost ?? u.used) : u.used + Math.max(0, held?.[i] ?? 0));
  const entries = usage.limits
    .map((u, i) => ({ u, i, used: figure(u, i) }))
    .filter(({ used }) => used > 0)
    .map(({ u, i, used }) => {
      const item = u.limit.item;
      const inLedger = { counted: counted.get(item.key), ...(heldAll ? { wholeUsed: u.used + Math.max(0, heldAll[i]) } : {}) };
      if (u.slots) return { item, used, slots: u.slots, kept: !countersLost, ...(countersLost ? {} : inLedger) };
      // A fixed window's figure is its window's at the ledger's reading: the store may be past its edge by now.
      if (item.algorithm === 'fixed_window') return { item, used, windowStartMs: u.sinceMs, settled: true, ...inLedger };
      return { item, used };
    });
  await store.restore(entries);
  return { limits: entries.length, skippedCalls: usage.skippedCalls, skippedKeys: usage.skippedKeys, callers: usage.callers, ms: performance.now() - t0 };
}
