// Reservations across several limits at once (all-or-nothing, clamps, weights, price factors, shadow
// limits, concurrency), part of the CounterStore contract (counter-store.contract.ts).
import { expect, it } from 'vitest';
import type { CounterItem } from './counter-store.js';
import type { ContractKit } from './counter-store.contract.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 21, 10, 0, 0); // 10:00 UTC, an hour boundary

/** What one reservation admits, refuses, clamps and counts. */
export function reservationContract(kit: ContractKit): void {
  const { setup, item, tryReserve, used } = kit;

  it('are all-or-nothing across limits and algorithms', async () => {
    const { store } = await setup(T0);
    const big = item('big', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000);
    const day = item('day', 'fixed_window', { kind: 'calendar', unit: 'day' }, 1000);
    const slide = item('slide', 'sliding_window', { kind: 'duration', ms: HOUR }, 1000);
    const bucket = item('bucket', 'token_bucket', { kind: 'duration', ms: HOUR }, 1000);
    const small = item('small', 'fixed_window', { kind: 'duration', ms: HOUR }, 10);
    const refused = await tryReserve(store, [big, day, slide, bucket, small], 20);
    expect(refused).toMatchObject({ ok: false, blocked: [4] });
    expect(await used(store, [big, day, slide, bucket, small])).toEqual([0, 0, 0, 0, 0]);
    const admitted = await tryReserve(store, [big, day, slide, bucket, small], 10);
    expect(admitted.ok).toBe(true);
    expect(await used(store, [big, day, slide, bucket, small])).toEqual([10, 10, 10, 10, 10]);
  });

  it('reports every blocking limit, and used as it was before the refusal', async () => {
    const { store } = await setup(T0);
    const a = item('a', 'fixed_window', { kind: 'duration', ms: HOUR }, 10);
    const b = item('b', 'fixed_window', { kind: 'duration', ms: HOUR }, 100);
    const c = item('c', 'sliding_window', { kind: 'duration', ms: HOUR }, 5);
    await tryReserve(store, [a, b, c], 3);
    const r = await tryReserve(store, [a, b, c], 8);
    expect(r).toMatchObject({ ok: false, blocked: [0, 2], states: [{ used: 3, max: 10 }, { used: 3, max: 100 }, { used: 3, max: 5 }] });
  });

  it('clamp output to the room left on output-counting limits', async () => {
    const { store } = await setup(T0);
    const total = item('t', 'fixed_window', { kind: 'duration', ms: HOUR }, 500);
    const outputOnly = item('o', 'fixed_window', { kind: 'duration', ms: HOUR }, 300, 'output');
    const r = await tryReserve(store, [total, outputOnly], 100, 1000, true);
    expect(r).toMatchObject({ ok: true, output: 300 });
    const r2 = await tryReserve(store, [total, outputOnly], 50, 1000, true);
    expect(r2.ok).toBe(false); // output limit exhausted: no room for even one token
  });

  it('refuse a clamp below minOutput', async () => {
    const { store } = await setup(T0);
    const limit = item('t', 'fixed_window', { kind: 'duration', ms: HOUR }, 100);
    const r = await store.reserve({ id: 'm', items: [limit], input: 60, output: 100, clamp: true, minOutput: 50 });
    expect(r).toMatchObject({ ok: false, blocked: [0] });
    const r2 = await store.reserve({ id: 'm2', items: [limit], input: 60, output: 100, clamp: true, minOutput: 40 });
    expect(r2).toMatchObject({ ok: true, output: 40 });
  });

  it('count requests and money with their weights', async () => {
    const { store } = await setup(T0);
    const requests = item('rq', 'sliding_window', { kind: 'duration', ms: 60_000 }, 3, 'requests');
    // $2.50 / $10 per million tokens, in µUSD: a limit of 0.01 USD.
    const money: CounterItem = { ...item('usd', 'fixed_window', { kind: 'calendar', unit: 'day' }, 10_000), weights: { input: 2.5, output: 10, request: 0 } };
    for (let i = 0; i < 3; i++) expect((await tryReserve(store, [requests, money], 100, 100)).ok).toBe(true);
    const r = await tryReserve(store, [requests, money], 1, 1);
    expect(r).toMatchObject({ ok: false, blocked: [0] });
    expect(await used(store, [requests, money])).toEqual([3, 3750]);
    const clamped = await store.reserve({ id: 'usd', items: [money], input: 1000, output: 1000, clamp: true, minOutput: 1 });
    expect(clamped).toMatchObject({ ok: true, output: 375 }); // (10000 - 3750 - 2500) / 10
  });

  it('scale money, and only money, by the price factors reserved at and billed at', async () => {
    const { store } = await setup(T0);
    const tokens = item('tok', 'fixed_window', { kind: 'calendar', unit: 'day' }, 100_000);
    // $2.50 / $10 per million tokens: 0.01 USD, in µUSD.
    const money: CounterItem = { ...item('usd2', 'fixed_window', { kind: 'calendar', unit: 'day' }, 10_000), weights: { input: 2.5, output: 10, request: 0 }, priced: true };
    const bucket: CounterItem = { ...item('usd3', 'token_bucket', { kind: 'duration', ms: HOUR }, 10_000), weights: { input: 2.5, output: 10, request: 0 }, priced: true };
    // A priority call (1.7x): the clamp leaves (10000 - 1000 * 2.5 * 1.7) / (10 * 1.7) = 338 output tokens.
    const priority = { input: 1.7, output: 1.7 };
    const r = await store.reserve({ id: 'p', items: [tokens, money, bucket], input: 1000, output: 1000, clamp: true, minOutput: 1, factors: priority });
    expect(r).toMatchObject({ ok: true, output: 338 });
    expect(await used(store, [tokens, money])).toEqual([1338, 1000 * 2.5 * 1.7 + 338 * 10 * 1.7]);
    // Billed with half the input from the prompt cache at a tenth of the price: input factor (500 + 50) / 1000.
    const billed = { input: 0.55, output: 1.7 };
    await store.settle('p', { input: 1000, output: 300, request: 1, factors: billed });
    const expected = 1000 * 2.5 * 0.55 + 300 * 10 * 1.7;
    const [t, m, b] = await used(store, [tokens, money, bucket]);
    expect(t).toBe(1300);
    expect(m).toBeCloseTo(expected, 9);
    expect(b).toBeCloseTo(expected, 9);
    expect(await store.openReservations()).toBe(0);
    // Without factors, money counts at the configured price.
    await store.reserve({ id: 'list', items: [money], input: 100, output: 0, clamp: false, minOutput: 1 });
    expect((await used(store, [money]))[0]).toBeCloseTo(expected + 250, 9);
  });

  it('never block on shadow limits, but count and report them', async () => {
    const { store } = await setup(T0);
    const shadow: CounterItem = { ...item('sh', 'fixed_window', { kind: 'duration', ms: HOUR }, 10), mode: 'shadow' };
    const real = item('real', 'fixed_window', { kind: 'duration', ms: HOUR }, 100);
    const r = await tryReserve(store, [shadow, real], 30);
    expect(r).toMatchObject({ ok: true, shadowBlocked: [0] });
    expect(await used(store, [shadow, real])).toEqual([30, 30]);
  });

  it('under concurrency, admit exactly what fits', async () => {
    const { store } = await setup(T0);
    const items = [
      item('f', 'fixed_window', { kind: 'calendar', unit: 'day' }, 500),
      item('s', 'sliding_window', { kind: 'duration', ms: HOUR }, 10_000),
      item('b', 'token_bucket', { kind: 'duration', ms: 1000 * HOUR }, 10_000),
    ];
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => tryReserve(store, items, 4, 6)));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(50);
    expect(await used(store, items)).toEqual([500, 500, expect.closeTo(500, 6)]);
    expect(await store.openReservations()).toBe(50);
  });
}
