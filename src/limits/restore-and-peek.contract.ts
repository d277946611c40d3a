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

  it('restore without slots: a sliding window is raised by its total, what is missing going into the current slot', async () => {
    const { clock, store } = await setup(T0 - 1_000);
    const minute = item('t', 'sliding_window', { kind: 'duration', ms: 60_000 }, 1000);
    await store.reserve({ id: 'a', items: [minute], input: 40, output: 0, clamp: false, minOutput: 1 });
    clock.set(T0 + 1_000);
    // The 40 are in the slot before T0; a total of 40 elsewhere in the window is the same usage.
    await store.restore([{ item: minute, used: 40 }]);
    expect((await used(store, [minute]))[0]).toBe(40);
    await store.restore([{ item: minute, used: 50 }]);
    expect((await used(store, [minute]))[0]).toBe(50);
    // The reservation's slot (T0 - 3 s to T0) has left the window 60 s on; the 10 raised stay a slot longer.
    clock.set(T0 + 60_001);
    expect((await used(store, [minute]))[0]).toBe(10);
  });

  it('peek changes nothing, and an item never used reads as empty', async () => {
    const { store } = await setup(T0);
    const limit = item('k', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000);
    expect(await store.peek([limit])).toEqual([{ used: 0, max: 1000, resetAtMs: T0 + HOUR }]);
    expect(await store.peek([limit])).toEqual([{ used: 0, max: 1000, resetAtMs: T0 + HOUR }]);
  });
}
