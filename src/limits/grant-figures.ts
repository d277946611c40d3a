// A lease's figure (Lease.usedAtGrant) is the store's count of its key when the lease was granted; the
// x-ratelimit-remaining-* of calls admitted against the lease start from it. The calls the store admits for
// this instance move it. The store answers a key's commands in the order it ran them (one connection per key,
// script-batcher.ts keeps the order of sending), so the order of the answers here is the order in the store:
// a call whose admission was answered before the grant is in its figure whole, and its settlement takes off
// what it did not use; one answered after is not, so it is added (whole while it runs, its unused part taken
// off when it settles). A settlement while a grant is on its way reaches the store after the grant: it is kept
// on the key and applied once the grant is answered.
//
// The order of answers, not the store's clock: a call and a grant in the same store millisecond could not be
// told apart, and calls 4-9 of test/review-s39-leases-headers.test.ts read 30 tokens less room (CI 12-07).
// Only the headers read these figures: what a lease admits is bounded by its own size.
import { amountFor } from './admission.js';
import type { CounterItem, SettleUsage } from './counter-store.js';
import type { KeyState, Lease } from './lease.js';
import { ChurnMap } from '../util/churn-map.js';

interface StoreAdmitted {
  states: KeyState[];
  items: CounterItem[];
  /** What the call holds of each item. */
  amounts: number[];
}

export class GrantFigures {
  /** Calls the store admitted, until settled. */
  private readonly open = new ChurnMap<string, StoreAdmitted>();

  /** The store admitted call `id`, holding `amounts`: after the grant of each key's current lease, so not in its figure. */
  admitted(id: string, call: StoreAdmitted): void {
    this.open.set(id, call);
    call.states.forEach((k, i) => {
      if (k.current) k.current.usedAtGrant += call.amounts[i];
    });
  }

  /** Call `id` (admitted by the store, or not: then nothing changes) settled with `usage`. */
  settled(id: string, usage: SettleUsage): void {
    const r = this.open.get(id);
    if (!r) return;
    this.open.delete(id);
    r.states.forEach((k, i) => {
      const unused = r.amounts[i] - amountFor(r.items[i], usage.input, usage.output, usage.request, usage.factors);
      // Whole in the current lease's figure: counted by the store at its grant, or added since.
      if (k.current) k.current.usedAtGrant -= unused;
      if (k.acquiring) (k.settledWhileAcquiring ??= []).push(unused);
    });
  }

  /** `lease` was granted on `k`: every call still open was admitted before it; those that settled meanwhile are taken off. */
  granted(k: KeyState, lease: Lease): void {
    for (const unused of k.settledWhileAcquiring ?? []) lease.usedAtGrant -= unused;
  }
}
