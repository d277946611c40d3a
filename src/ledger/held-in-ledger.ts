// Calls a shared store still notes as in flight (Redis: lua-held-index.ts) whose rows the ledger already
// has: a settlement that timed out and has not reached Redis yet, or one that a failover to a replica lost
// (the replica kept the reservation, the gateway wrote the row). A rebuild raises a counter's settled part,
// the counter less what is held, to the ledger's figure; such a call is in both, so it counted twice
// (+84 over the settled usage in test/redis-cluster-failover.test.ts). What the ledger counts of each is
// taken off what its reservation holds instead, in the same script that restores (the settlement may land
// just before it).
import type { Policy } from '../config/policy.js';
import { principalOf } from '../auth/key-store.js';
import type { CounterStore } from '../limits/counter-store.js';
import type { Ledger } from './ledger.js';
import { LedgerCombos } from './ledger-combos.js';
import { weighRow } from './limit-usage.js';

/** Per counter key, the calls noted in flight with rows in the ledger, and what each row adds to that counter. */
export type CountedInLedger = Map<string, Array<{ id: string; amount: number }>>;

/**
 * Looks up the rows of the calls noted in flight in the configured keys' organizations. Each row is weighed
 * by the limits its recorded owner and target resolve to, as the rebuild's sums weigh it, and only for the
 * counters its reservation noted. Only those rows are resolved: resolving every configured key on every
 * model first (5,000 keys on 20 models) held the event loop 1.4 s per rebuild.
 */
export async function countedInLedger(ledger: Ledger, policy: Policy, store: CounterStore): Promise<CountedInLedger> {
  const out: CountedInLedger = new Map();
  const organizations = [...new Set(policy.keys.map((key) => principalOf(key).organization))];
  if (!store.heldCalls || organizations.length === 0) return out;
  const { calls, sinceMs } = await store.heldCalls(organizations);
  if (calls.length === 0) return out;
  const keysOf = new Map(calls.map((c) => [c.id, new Set(c.keys)]));
  const combos = new LedgerCombos(policy);
  for (const row of await ledger.rows({ requestIds: [...keysOf.keys()], sinceMs })) {
    const noted = keysOf.get(row.requestId);
    if (!noted) continue;
    for (const limit of combos.resolve(row)?.limits ?? []) {
      const key = limit.item.key;
      if (!noted.delete(key)) continue; // not noted, or weighed already (one entry per counter)
      let list = out.get(key);
      if (!list) out.set(key, (list = []));
      list.push({ id: row.requestId, amount: weighRow(limit.item, row) });
    }
  }
  return out;
}
