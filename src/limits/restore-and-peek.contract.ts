// Restoring counters (rebuilt from the ledger) and peeking at them, part of the CounterStore contract
// (counter-store.contract.ts).
import { expect, it } from 'vitest';
import type { ContractKit } from './counter-store.contract.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 21, 10, 0, 0); // 10:00 UTC, an hour boundary

/** Counters raised to rebuilt figures, and read without changing them. */
export function restoreAndPeekContract(kit: ContractKit): void {
  const { setup, item, used } = kit;

  it('restore raises counters to the given usage, idempotently', async () => {
    const { store } = await setup(T0);
    const limit = item('k', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000);
    const bucket = item('b', 'token_bucket', { kind: 'duration', ms: HOUR }, 1000);
    await store.reserve({ id: 'a', items: [limit], input: 100, output: 0, clamp: false, minOutput: 1 });
    await store.settle('a', { input: 100, output: 0, request: 1 });
    await store.restore([{ item: limit, used: 300 }, { item: bucket, used: 200 }]);
    await store.restore([{ item: limit, used: 300 }, { item: bucket, used: 200 }]);
    expect(await used(store, [limit, bucket])).toEqual([300, 200]);
    await store.restore([{ item: limit, used: 50 }]);
    expect((await used(store, [limit]))[0]).toBe(300);
  });

  it('restore by slot: a sliding window gets each slot back where it was, so restored usage leaves the window on time', async () => {
    const { clock, store } = await setup(T0);
    const minute = item('s', 'sliding_window', { kind: 'duration', ms: 60_000 }, 1000);
    // Slots of 3 s: usage 50 s and 10 s ago, and one slot older than the window (ignored).
    const slots = [
      { atMs: T0 - 90_000, used: 999 },
      { atMs: T0 - 51_000, used: 200 },
      { atMs: T0 - 9_000, used: 30 },
    ];
    await store.restore([{ item: minute, used: 230, slots }]);
    await store.restore([{ item: minute, used: 230, slots }]);
    expect((await used(store, [minute]))[0]).toBe(230);
    // A slot already holding more keeps it; one holding less is raised, not added to.
    await store.restore([{ item: minute, used: 0, slots: [{ atMs: T0 - 9_000, used: 10 }, { atMs: T0 - 51_000, used: 250 }] }]);
    expect((await used(store, [minute]))[0]).toBe(280);
    // The slot from 51 s ago leaves the window 12 s on (21 slots of 3 s counted); the other stays.
    clock.set(T0 + 12_001);
    expect((await used(store, [minute]))[0]).toBe(30);
  });

  it('restore into a store that kept its counters: a sliding window is raised by what its total is short, slots newest first', async () => {
    const { clock, store } = await setup(T0 - 1_000);
    const minute = item('t', 'sliding_window', { kind: 'duration', ms: 60_000 }, 1000);
    await store.reserve({ id: 'a', items: [minute], input: 40, output: 0, clamp: false, minOutput: 1 });
    await store.settle('a', { input: 40, output: 0, request: 1 });
    clock.set(T0 + 4_000);
    // The ledger has the 40 a slot later than the store counted them: the same usage, nothing raised.
    await store.restore([{ item: minute, used: 40, slots: [{ atMs: T0, used: 40 }], kept: true }]);
    expect((await used(store, [minute]))[0]).toBe(40);
    // 10 the store lacks, in the ledger's slot at T0: raised there, and only by the 10.
    await store.restore([{ item: minute, used: 50, slots: [{ atMs: T0 - 3_000, used: 40 }, { atMs: T0, used: 10 }], kept: true }]);
    expect((await used(store, [minute]))[0]).toBe(50);
    // 5 more than any slot's figure shows (calls in flight): counted from now.
    await store.restore([{ item: minute, used: 55, slots: [{ atMs: T0 - 3_000, used: 40 }, { atMs: T0, used: 10 }], kept: true }]);
    expect((await used(store, [minute]))[0]).toBe(55);
    // At T0 + 60 s the reservation's slot (T0 - 3 s to T0) has left, the 10 of T0's slot and the 5 remain.
    clock.set(T0 + 60_000);
    expect((await used(store, [minute]))[0]).toBe(15);
    // A ledger read 3 s ago still had a slot the window has left since (a rebuild takes seconds): its usage is
    // not short in the store, which dropped it on time (the whole of `used` counted as short put it back for a minute).
    await store.restore([{ item: minute, used: 55, slots: [{ atMs: T0 - 3_000, used: 40 }, { atMs: T0, used: 10 }], kept: true }]);
    expect((await used(store, [minute]))[0]).toBe(15);
    // A counter with nothing in it (a limit a reload added) gets each slot back where it was.
    const added = item('u', 'sliding_window', { kind: 'duration', ms: 60_000 }, 1000);
    await store.restore([{ item: added, used: 30, slots: [{ atMs: T0 + 3_000, used: 20 }, { atMs: T0 + 57_000, used: 10 }], kept: true }]);
    expect((await used(store, [added]))[0]).toBe(30);
    clock.set(T0 + 66_001);
    expect((await used(store, [added]))[0]).toBe(10);
  });

  // The rebuild's figure is the ledger's (settled usage) plus what the instance's calls in flight hold that
  // the store does not count itself (restoreHeld, else held): either way the reservations stay on top of it.
  it.each(['fixed_window', 'sliding_window', 'token_bucket'] as const)('a %s restored from settled usage keeps the reservations in flight on top of it', async (algorithm) => {
    const { store } = await setup(T0);
    const limit = item(`h-${algorithm}`, algorithm, { kind: 'duration', ms: HOUR }, 1000);
    await store.reserve({ id: 'done', items: [limit], input: 100, output: 0, clamp: false, minOutput: 1 });
    await store.settle('done', { input: 100, output: 0, request: 1 });
    await store.reserve({ id: 'running', items: [limit], input: 250, output: 0, clamp: false, minOutput: 1 });
    // 300 settled in the ledger, 200 of it served where this counter did not see it.
    const [held] = await (store.restoreHeld ?? store.held)!.call(store, [limit]);
    const settled = 300;
    const slots = algorithm === 'sliding_window' ? { slots: [{ atMs: T0, used: settled + held }], kept: true } : {};
    await store.restore([{ item: limit, used: settled + held, ...slots, ...(algorithm === 'fixed_window' ? { windowStartMs: T0, settled: true } : {}) }]);
    expect((await used(store, [limit]))[0]).toBe(550);
    await store.settle('running', { input: 10, output: 0, request: 1 });
    expect((await used(store, [limit]))[0]).toBe(310);
  });

  it('peek changes nothing, and an item never used reads as empty', async () => {
    const { store } = await setup(T0);
    const limit = item('k', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000);
    expect(await store.peek([limit])).toEqual([{ used: 0, max: 1000, resetAtMs: T0 + HOUR }]);
    expect(await store.peek([limit])).toEqual([{ used: 0, max: 1000, resetAtMs: T0 + HOUR }]);
  });
}
