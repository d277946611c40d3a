// Calls a shared store still notes as in flight (Redis: lua-held-index.ts) whose rows the ledger already
// has: a settlement that timed out and has not reached Redis yet, or one that a failover to a replica lost
// (the replica kept the reservation, the gateway wrote the row). A rebuild raises a counter's settled part,
// the counter less what is held, to the ledger's figure; such a call is in both, so it counted twice
// (+84 over the settled usage in test/redis-cluster-failover.test.ts). What the ledger counts of each is
// taken off what its reservation holds instead, in the same script that restores (the settlement may land
// just before it).
import type { CounterItem, CounterStore } from '../limits/counter-store.js';
import type { Ledger } from './ledger.js';
import { weighRow } from './limit-usage.js';

/** Per counter key, the calls noted in flight with rows in the ledger, and what each row adds to that counter. */
export type CountedInLedger = Map<string, Array<{ id: string; amount: number }>>;

export async function countedInLedger(ledger: Ledger, store: CounterStore, items: CounterItem[]): Promise<CountedInLedger> {
  const out: CountedInLedger = new Map();
  if (!store.heldCalls || items.length === 0) return out;
  const { calls, sinceMs } = await store.heldCalls(items);
  if (calls.length === 0) return out;
  const byKey = new Map(items.map((item) => [item.key, item]));
  const keysOf = new Map(calls.map((c) => [c.id, c.keys]));
  for (const row of await ledger.rows({ requestIds: [...keysOf.keys()], sinceMs })) {
    for (const key of keysOf.get(row.requestId) ?? []) {
      const item = byKey.get(key);
      if (!item) continue;
      let list = out.get(key);
      if (!list) out.set(key, (list = []));
      list.push({ id: row.requestId, amount: weighRow(item, row) });
    }
  }
  return out;
}
