// How fixed, sliding and calendar windows count over time, part of the CounterStore contract
// (counter-store.contract.ts): the same bodies run on every store. Time is the test's ManualClock.
import { expect, it } from 'vitest';
import type { CounterItem } from './counter-store.js';
import type { ContractKit } from './counter-store.contract.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 21, 10, 0, 0); // 10:00 UTC, an hour boundary

/** Fixed windows: counted per window, reset at its edge. */
export function fixedWindowContract(kit: ContractKit): void {
  const { setup, item, tryReserve } = kit;

  it('admits up to the limit, refuses past it, and resets at the window edge', async () => {
    const { clock, store } = await setup(T0 + 10 * 60_000);
    const limit = item('k', 'fixed_window', { kind: 'duration', ms: HOUR }, 100);
    expect((await tryReserve(store, [limit], 60)).ok).toBe(true);
    expect((await tryReserve(store, [limit], 40)).ok).toBe(true);
    const refused = await tryReserve(store, [limit], 1);
    expect(refused.ok).toBe(false);
    expect(refused.states[0]).toMatchObject({ used: 100, max: 100, resetAtMs: T0 + HOUR });
    clock.set(T0 + HOUR - 1);
    expect((await tryReserve(store, [limit], 1)).ok).toBe(false);
    clock.set(T0 + HOUR);
    expect((await tryReserve(store, [limit], 100)).ok).toBe(true);
  });

  it('lets a caller spend twice the limit across the edge, which sliding windows prevent', async () => {
    const { clock, store } = await setup(T0 + HOUR - 1000);
    const f = item('f', 'fixed_window', { kind: 'duration', ms: HOUR }, 100);
    const s = item('s', 'sliding_window', { kind: 'duration', ms: HOUR }, 100);
    expect((await tryReserve(store, [f], 100)).ok).toBe(true);
    expect((await tryReserve(store, [s], 100)).ok).toBe(true);
    clock.advance(2000); // just past the fixed edge
    expect((await tryReserve(store, [f], 100)).ok).toBe(true); // 200 within two seconds
    expect((await tryReserve(store, [s], 1)).ok).toBe(false);
  });
}

/** Sliding windows: counted in slots that leave the window one by one. */
export function slidingWindowContract(kit: ContractKit): void {
  const { setup, item, tryReserve, used } = kit;

  it('never admits more than max within any window-length span, and frees room as old slots leave', async () => {
    const { clock, store } = await setup(T0);
    const limit = item('k', 'sliding_window', { kind: 'duration', ms: 60_000 }, 100);
    const admitted: Array<{ at: number; amount: number }> = [];
    for (let step = 0; step < 600; step++) {
      const amount = 1 + (step % 7);
      if ((await tryReserve(store, [limit], amount)).ok) admitted.push({ at: clock.now(), amount });
      clock.advance(700);
    }
    for (const a of admitted) {
      const inSpan = admitted.filter((b) => b.at >= a.at && b.at < a.at + 60_000).reduce((sum, b) => sum + b.amount, 0);
      expect(inSpan).toBeLessThanOrEqual(100);
    }
    // Over 420 s the limit of 100 per minute allows well above 5 windows' worth; the slot rounding costs at most 1/20.
    expect(admitted.reduce((sum, b) => sum + b.amount, 0)).toBeGreaterThan(600);
  });

  it('reports the reset as the time the oldest counted slot leaves the window', async () => {
    const { clock, store } = await setup(T0);
    const limit = item('k', 'sliding_window', { kind: 'duration', ms: 60_000 }, 10);
    await tryReserve(store, [limit], 4);
    clock.advance(10_000);
    const r = await tryReserve(store, [limit], 7);
    expect(r).toMatchObject({ ok: false, states: [{ used: 4, max: 10, resetAtMs: T0 + 63_000 }] });
  });

  it('whose length a reload changes keeps counting what it holds, in slots of the new length', async () => {
    // Slots are numbered in units of the window's own slot length: read with another length, usage
    // in them landed in the future (a longer window: counted for ever, and nothing new was stored, so
    // the limit stopped being enforced) or far in the past (a shorter one: forgotten at once).
    const { clock, store } = await setup(T0);
    const short = item('k', 'sliding_window', { kind: 'duration', ms: 10_000 }, 1000);
    const admit = async (limit: CounterItem, amount: number): Promise<boolean> => {
      const r = await tryReserve(store, [limit], amount);
      return r.ok;
    };
    for (let i = 0; i < 21; i++) {
      expect(await admit(short, 2)).toBe(true); // every slot of the 10 s window, and one more
      clock.advance(500);
    }
    const long: CounterItem = { ...short, max: 2000, window: { kind: 'duration', ms: 24 * HOUR } };
    expect(await used(store, [long])).toEqual([42]);
    expect(await admit(long, 1959)).toBe(false);
    expect(await admit(long, 1958)).toBe(true);
    expect(await admit(long, 1)).toBe(false);
    // Shorter again: what a 72-minute slot holds may be from its last moment (still to come), so it
    // counts for a whole new window.
    expect(await used(store, [short])).toEqual([2000]);
    expect(await admit(short, 1)).toBe(false);
    clock.advance(10_500);
    expect(await used(store, [short])).toEqual([0]);
    expect(await admit(short, 500)).toBe(true);
    // Longer once more: what left the short window has left the counter too (a reload that changes a
    // window also rebuilds its counter from the ledger, which has it).
    expect(await used(store, [long])).toEqual([500]);
    clock.advance(2 * 24 * HOUR);
    expect(await used(store, [long])).toEqual([0]);
  });
}

/** Windows that follow the calendar in the configured time zone. */
export function calendarWindowContract(kit: ContractKit): void {
  const { setup, item, tryReserve } = kit;

  it('rolls the day over at local midnight in the configured timezone', async () => {
    // 23:30 in New York on 21 Nov 2026 (EST, UTC-5) is 04:30 UTC on 22 Nov.
    const { clock, store } = await setup(Date.UTC(2026, 10, 22, 4, 30), 'America/New_York');
    const daily = item('d', 'fixed_window', { kind: 'calendar', unit: 'day' }, 100);
    const first = await tryReserve(store, [daily], 100);
    expect(first.ok).toBe(true);
    expect(first.states[0].resetAtMs).toBe(Date.UTC(2026, 10, 22, 5, 0));
    clock.set(Date.UTC(2026, 10, 22, 4, 59, 59));
    expect((await tryReserve(store, [daily], 1)).ok).toBe(false);
    clock.set(Date.UTC(2026, 10, 22, 5, 0));
    expect((await tryReserve(store, [daily], 100)).ok).toBe(true);
  });

  it('handles a daylight-saving day of 25 hours and month ends', async () => {
    const { store } = await setup(Date.UTC(2026, 10, 1, 12), 'America/New_York'); // 1 Nov 2026, DST ends in New York
    const daily = item('d', 'fixed_window', { kind: 'calendar', unit: 'day' }, 10);
    const monthly = item('m', 'fixed_window', { kind: 'calendar', unit: 'month' }, 10);
    const r = await tryReserve(store, [daily, monthly], 1);
    expect(r.ok && r.states[0].resetAtMs).toBe(Date.UTC(2026, 10, 2, 5)); // midnight EST
    expect(r.ok && r.states[1].resetAtMs).toBe(Date.UTC(2026, 11, 1, 5));
  });

  it('aligns a fixed "1 day" duration window to local midnight too', async () => {
    const { store } = await setup(Date.UTC(2026, 10, 21, 20), 'Asia/Tokyo');
    const r = await tryReserve(store, [item('d', 'fixed_window', { kind: 'duration', ms: 86_400_000 }, 10)], 1);
    expect(r.ok && r.states[0].resetAtMs).toBe(Date.UTC(2026, 10, 22, 15)); // midnight JST on the 23rd
  });
}
