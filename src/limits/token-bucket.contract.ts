// How token buckets drain, refill and take refunds, part of the CounterStore contract
// (counter-store.contract.ts): the same bodies run on every store. Time is the test's ManualClock.
import { expect, it } from 'vitest';
import type { ReserveOutcome } from './counter-store.js';
import type { ContractKit } from './counter-store.contract.js';

const T0 = Date.UTC(2026, 10, 21, 10, 0, 0); // 10:00 UTC, an hour boundary

/** Token buckets: refilled continuously, refunded without giving back what others use. */
export function tokenBucketContract(kit: ContractKit): void {
  const { setup, item, tryReserve, used } = kit;

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
}
