// The one CounterStore contract: every implementation (memory, Redis, Redis Cluster) runs these same test
// bodies. Time is a ManualClock; the Redis store takes it as a test-only replacement for Redis TIME.
import { ownerRecordsContract } from './owner-records.contract.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Algorithm, WindowSpec } from '../config/policy.js';
import { ManualClock } from '../util/clock.js';
import type { CounterItem, CounterStore, ReserveOutcome } from './counter-store.js';

/** Builds a fresh store reading time from `clock`, with calendar windows in `timezone`. */
export type StoreFactory = (clock: ManualClock, timezone: string) => Promise<CounterStore>;

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 21, 10, 0, 0); // 10:00 UTC, an hour boundary

/** Registers the contract tests for one implementation. */
export function counterStoreContract(name: string, factory: StoreFactory): void {
  describe(`CounterStore contract: ${name}`, () => {
    const open: CounterStore[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    // Each test gets its own organization, so stores sharing one Redis never see each other's counters.
    let org = '';
    async function setup(startMs: number, timezone = 'UTC'): Promise<{ clock: ManualClock; store: CounterStore }> {
      org = `c${Math.random().toString(36).slice(2, 10)}`;
      const clock = new ManualClock(startMs);
      const store = await factory(clock, timezone);
      open.push(store);
      return { clock, store };
    }
    function item(key: string, algorithm: Algorithm, window: WindowSpec, max: number, measure: 'total' | 'input' | 'output' | 'requests' = 'total'): CounterItem {
      const weights =
        measure === 'requests'
          ? { input: 0, output: 0, request: 1 }
          : { input: measure === 'output' ? 0 : 1, output: measure === 'input' ? 0 : 1, request: 0 };
      return { key: `tg:{${org}}:${key}`, algorithm, window, max, weights, mode: 'enforce' };
    }
    let n = 0;
    function tryReserve(store: CounterStore, items: CounterItem[], input: number, output = 0, clamp = false): Promise<ReserveOutcome> {
      return store.reserve({ id: `r${n++}`, items, input, output, clamp, minOutput: 1 });
    }
    const used = async (store: CounterStore, items: CounterItem[]): Promise<number[]> => (await store.peek(items)).map((s) => s.used);

    describe('fixed window', () => {
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
    });

    describe('sliding window', () => {
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
    });

    describe('token bucket', () => {
      it('refills continuously at max per window', async () => {
        const { clock, store } = await setup(T0);
        const limit = item('k', 'token_bucket', { kind: 'duration', ms: 60_000 }, 600); // 10 tokens per second
        expect((await tryReserve(store, [limit], 600)).ok).toBe(true);
        expect((await tryReserve(store, [limit], 1)).ok).toBe(false);
        clock.advance(5000);
        expect((await tryReserve(store, [limit], 51)).ok).toBe(false);
        const ok = await tryReserve(store, [limit], 50);
        expect(ok.ok).toBe(true);
        expect(ok.states[0].used).toBeCloseTo(600);
        expect(ok.states[0].resetAtMs).toBe(T0 + 5000 + 60_000);
      });

      it('refunds into the bucket on settlement', async () => {
        const { clock, store } = await setup(T0);
        const limit = item('k', 'token_bucket', { kind: 'duration', ms: 60_000 }, 600);
        await store.reserve({ id: 'b1', items: [limit], input: 100, output: 400, clamp: false, minOutput: 1 });
        clock.advance(6000); // 60 drained
        await store.settle('b1', { input: 100, output: 50, request: 1 });
        expect((await used(store, [limit]))[0]).toBeCloseTo(90);
      });

      it("gives back on a refund only what of the reservation has not drained yet, never others' usage", async () => {
        // A bucket of 1000 per minute. A reserves it all; 30 s later half has drained and B takes that half.
        // A then fails (refund): its 1000 was half drained already, so only the other half comes back. Giving
        // back all 1000 erased B's 500 and let C burst 1000 more at once, 1500 against a capacity of 1000.
        const { clock, store } = await setup(T0);
        const bucket = item('k', 'token_bucket', { kind: 'duration', ms: 60_000 }, 1000, 'output');
        expect((await store.reserve({ id: 'a', items: [bucket], input: 0, output: 1000, clamp: false, minOutput: 1 })).ok).toBe(true);
        clock.advance(30_000);
        expect((await store.reserve({ id: 'b', items: [bucket], input: 0, output: 500, clamp: false, minOutput: 1 })).ok).toBe(true);
        await store.settle('a', { input: 0, output: 0, request: 0 });
        expect((await used(store, [bucket]))[0]).toBeCloseTo(500);
        expect((await store.reserve({ id: 'c', items: [bucket], input: 0, output: 501, clamp: false, minOutput: 1 })).ok).toBe(false);
        expect((await store.reserve({ id: 'd', items: [bucket], input: 0, output: 500, clamp: false, minOutput: 1 })).ok).toBe(true);
      });

      it('keeps usage admitted after a reservation settled below it', async () => {
        // 10 per second. Z holds 200 when A reserves 400; 30 s later 300 have drained, oldest first: Z's 200
        // and 100 of A. B then takes 200. A settles with 50 used, which would have drained by now: the level
        // is B's 200, not 500 - 350 = 150.
        const { clock, store } = await setup(T0);
        const bucket = item('k', 'token_bucket', { kind: 'duration', ms: 60_000 }, 600);
        await store.reserve({ id: 'z', items: [bucket], input: 200, output: 0, clamp: false, minOutput: 1 });
        await store.settle('z', { input: 200, output: 0, request: 1 });
        await store.reserve({ id: 'a', items: [bucket], input: 0, output: 400, clamp: false, minOutput: 1 });
        clock.advance(30_000);
        await store.reserve({ id: 'b', items: [bucket], input: 200, output: 0, clamp: false, minOutput: 1 });
        expect((await used(store, [bucket]))[0]).toBeCloseTo(500);
        await store.settle('a', { input: 0, output: 50, request: 1 });
        expect((await used(store, [bucket]))[0]).toBeCloseTo(200);
      });

      it('a refund after an older reservation was refunded gives back only what is left of it, never usage admitted since', async () => {
        // Found by test/limits-fuzz-stores.test.ts. 1000 per minute. Z and A reserve 500 each; Z fails at once,
        // so A now sits at the bottom and drains first: 15 s later 250 of A have drained and B takes 250. A then
        // fails: 250 of it are left, so B's 250 stay. Counting A as still on top of Z's 500 (as reserved) gave
        // back all 500, erased B and let C take a whole bucket at once: 1250 in one instant against 1000.
        const { clock, store } = await setup(T0);
        const bucket = item('k', 'token_bucket', { kind: 'duration', ms: 60_000 }, 1000, 'input');
        const reserve = (id: string, input: number): Promise<ReserveOutcome> => store.reserve({ id, items: [bucket], input, output: 0, clamp: false, minOutput: 0 });
        expect((await reserve('z', 500)).ok).toBe(true);
        expect((await reserve('a', 500)).ok).toBe(true);
        await store.settle('z', { input: 0, output: 0, request: 0 });
        clock.advance(15_000);
        expect((await reserve('b', 250)).ok).toBe(true);
        await store.settle('a', { input: 0, output: 0, request: 0 });
        expect((await used(store, [bucket]))[0]).toBeCloseTo(250);
        expect((await reserve('c', 751)).ok).toBe(false);
        expect((await reserve('d', 750)).ok).toBe(true);
      });
    });

    describe('calendar windows', () => {
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
    });

    describe('reservations', () => {
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

      it('peek changes nothing, and an item never used reads as empty', async () => {
        const { store } = await setup(T0);
        const limit = item('k', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000);
        expect(await store.peek([limit])).toEqual([{ used: 0, max: 1000, resetAtMs: T0 + HOUR }]);
        expect(await store.peek([limit])).toEqual([{ used: 0, max: 1000, resetAtMs: T0 + HOUR }]);
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
    });

    describe('response owners', () => ownerRecordsContract(setup, () => org));
  });
}
