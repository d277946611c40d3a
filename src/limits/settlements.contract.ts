// Settlements: a reservation replaced by real usage exactly once, in the window and slot it went to,
// part of the CounterStore contract (counter-store.contract.ts).
import { expect, it } from 'vitest';
import type { CounterItem } from './counter-store.js';
import type { ContractKit } from './counter-store.contract.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 21, 10, 0, 0); // 10:00 UTC, an hour boundary

/** How a settlement replaces a reservation with real usage, and what reservations in flight hold. */
export function settlementContract(kit: ContractKit): void {
  const { setup, item, used } = kit;

  it('settle replaces the reservation with real usage exactly once', async () => {
    const { store } = await setup(T0);
    const limit = item('k', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000);
    await store.reserve({ id: 'a', items: [limit], input: 100, output: 400, clamp: false, minOutput: 1 });
    expect((await used(store, [limit]))[0]).toBe(500);
    expect(await store.openReservations()).toBe(1);
    await store.settle('a', { input: 90, output: 37, request: 1 });
    await store.settle('a', { input: 90, output: 37, request: 1 });
    expect((await used(store, [limit]))[0]).toBe(127);
    expect(await store.openReservations()).toBe(0);
  });

  it('says what its reservations in flight hold of each counter, at the price factors they were reserved at', async () => {
    const { store } = await setup(T0);
    const tokens = item('h1', 'fixed_window', { kind: 'duration', ms: HOUR }, 10_000);
    const money: CounterItem = { ...item('h2', 'sliding_window', { kind: 'duration', ms: HOUR }, 100_000), weights: { input: 2, output: 8, request: 0 }, priced: true };
    const other = item('h3', 'token_bucket', { kind: 'duration', ms: HOUR }, 10_000);
    await store.reserve({ id: 'x', items: [tokens, money], input: 100, output: 50, clamp: false, minOutput: 1, factors: { input: 1.5, output: 2 } });
    await store.reserve({ id: 'y', items: [tokens], input: 10, output: 5, clamp: false, minOutput: 1 });
    expect(await store.held!([tokens, money, other])).toEqual([165, 100 * 2 * 1.5 + 50 * 8 * 2, 0]);
    await store.settle('x', { input: 90, output: 20, request: 1 });
    expect(await store.held!([tokens, money])).toEqual([15, 0]);
  });

  it('settle with request 0 refunds everything, in every algorithm; an unknown id is a no-op', async () => {
    const { clock, store } = await setup(T0);
    const items = [
      item('f', 'fixed_window', { kind: 'calendar', unit: 'month' }, 1000),
      item('s', 'sliding_window', { kind: 'duration', ms: HOUR }, 1000),
      item('b', 'token_bucket', { kind: 'duration', ms: HOUR }, 1000),
      item('r', 'sliding_window', { kind: 'duration', ms: 60_000 }, 10, 'requests'),
    ];
    await store.reserve({ id: 'x', items, input: 10, output: 20, clamp: false, minOutput: 1 });
    expect(await used(store, items)).toEqual([30, 30, 30, 1]);
    clock.advance(1);
    await store.settle('nobody', { input: 1, output: 1, request: 1 });
    await store.settle('x', { input: 0, output: 0, request: 0 });
    const after = await used(store, items);
    expect(after[0]).toBe(0);
    expect(after[1]).toBe(0);
    expect(after[2]).toBeCloseTo(0);
    expect(after[3]).toBe(0);
  });

  it('settle above the reservation counts the extra usage too', async () => {
    const { store } = await setup(T0);
    const items = [item('f', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000), item('s', 'sliding_window', { kind: 'duration', ms: HOUR }, 1000)];
    await store.reserve({ id: 'y', items, input: 10, output: 10, clamp: false, minOutput: 1 });
    await store.settle('y', { input: 15, output: 30, request: 1 });
    expect(await used(store, items)).toEqual([45, 45]);
  });

  it('a settle after the window rolled does not touch the new window', async () => {
    const { clock, store } = await setup(T0 + HOUR - 10);
    const limit = item('k', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000);
    await store.reserve({ id: 'a', items: [limit], input: 10, output: 500, clamp: false, minOutput: 1 });
    clock.advance(20);
    await store.reserve({ id: 'b', items: [limit], input: 10, output: 10, clamp: false, minOutput: 1 });
    await store.settle('a', { input: 10, output: 1, request: 1 });
    expect((await used(store, [limit]))[0]).toBe(20);
  });

  it('a sliding settle corrects the slot the reservation went to, while it is still counted', async () => {
    const { clock, store } = await setup(T0);
    const limit = item('k', 'sliding_window', { kind: 'duration', ms: 60_000 }, 1000);
    await store.reserve({ id: 'a', items: [limit], input: 10, output: 90, clamp: false, minOutput: 1 });
    clock.advance(10_000);
    await store.reserve({ id: 'b', items: [limit], input: 5, output: 0, clamp: false, minOutput: 1 });
    await store.settle('a', { input: 10, output: 20, request: 1 });
    expect((await used(store, [limit]))[0]).toBe(35);
    clock.advance(53_000); // 21 slots on: a's slot has left the window, b's is still in it
    expect((await used(store, [limit]))[0]).toBe(5);
  });
}
