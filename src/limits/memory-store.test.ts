import { describe, expect, it } from 'vitest';
import { ManualClock } from '../util/clock.js';
import type { CounterItem } from './counter-store.js';
import { MemoryCounterStore } from './memory-store.js';
import type { Algorithm, WindowSpec } from '../config/policy.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 21, 10, 0, 0); // 10:00 UTC, an hour boundary

function item(key: string, algorithm: Algorithm, window: WindowSpec, max: number, measure: 'total' | 'input' | 'output' = 'total'): CounterItem {
  const weights = { input: measure === 'output' ? 0 : 1, output: measure === 'input' ? 0 : 1, request: 0 };
  return { key, algorithm, window, max, weights, mode: 'enforce' };
}

let n = 0;
async function tryReserve(store: MemoryCounterStore, items: CounterItem[], input: number, output = 0, clamp = false) {
  return store.reserve({ id: `r${n++}`, items, input, output, clamp, minOutput: 1 });
}

describe('fixed window', () => {
  it('admits up to the limit, refuses past it, and resets at the window edge', async () => {
    const clock = new ManualClock(T0 + 10 * 60_000);
    const store = new MemoryCounterStore(clock, 'UTC');
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
    const clock = new ManualClock(T0 + HOUR - 1000);
    const fixed = new MemoryCounterStore(clock, 'UTC');
    const sliding = new MemoryCounterStore(clock, 'UTC');
    const f = item('f', 'fixed_window', { kind: 'duration', ms: HOUR }, 100);
    const s = item('s', 'sliding_window', { kind: 'duration', ms: HOUR }, 100);
    expect((await tryReserve(fixed, [f], 100)).ok).toBe(true);
    expect((await tryReserve(sliding, [s], 100)).ok).toBe(true);
    clock.advance(2000); // just past the fixed edge
    expect((await tryReserve(fixed, [f], 100)).ok).toBe(true); // 200 within two seconds
    expect((await tryReserve(sliding, [s], 1)).ok).toBe(false);
  });
});

describe('sliding window', () => {
  it('never admits more than max within any window-length span, and frees room as old slots leave', async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryCounterStore(clock, 'UTC');
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
    const total = admitted.reduce((sum, b) => sum + b.amount, 0);
    expect(total).toBeGreaterThan(600);
  });
});

describe('token bucket', () => {
  it('refills continuously at max per window', async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryCounterStore(clock, 'UTC');
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
});

describe('calendar windows', () => {
  it('rolls the day over at local midnight in the configured timezone', async () => {
    // 23:30 in New York on 21 Nov 2026 (EST, UTC-5) is 04:30 UTC on 22 Nov.
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 4, 30));
    const store = new MemoryCounterStore(clock, 'America/New_York');
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
    const clock = new ManualClock(Date.UTC(2026, 10, 1, 12)); // 1 Nov 2026, DST ends in New York
    const store = new MemoryCounterStore(clock, 'America/New_York');
    const daily = item('d', 'fixed_window', { kind: 'calendar', unit: 'day' }, 10);
    const monthly = item('m', 'fixed_window', { kind: 'calendar', unit: 'month' }, 10);
    const r = await tryReserve(store, [daily, monthly], 1);
    expect(r.ok && r.states[0].resetAtMs).toBe(Date.UTC(2026, 10, 2, 5)); // midnight EST
    expect(r.ok && r.states[1].resetAtMs).toBe(Date.UTC(2026, 11, 1, 5));
  });

  it('aligns a fixed "1 day" duration window to local midnight too', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 21, 20));
    const store = new MemoryCounterStore(clock, 'Asia/Tokyo');
    const r = await tryReserve(store, [item('d', 'fixed_window', { kind: 'duration', ms: 86_400_000 }, 10)], 1);
    expect(r.ok && r.states[0].resetAtMs).toBe(Date.UTC(2026, 10, 22, 15)); // midnight JST on the 23rd
  });
});

describe('reservations', () => {
  it('are all-or-nothing across limits', async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryCounterStore(clock, 'UTC');
    const big = item('big', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000);
    const small = item('small', 'fixed_window', { kind: 'duration', ms: HOUR }, 10);
    const refused = await tryReserve(store, [big, small], 20);
    expect(refused).toMatchObject({ ok: false, blocked: [1] });
    const states = await store.peek([big, small]);
    expect(states.map((s) => s.used)).toEqual([0, 0]);
  });

  it('clamp output to the room left on output-counting limits', async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryCounterStore(clock, 'UTC');
    const total = item('t', 'fixed_window', { kind: 'duration', ms: HOUR }, 500);
    const outputOnly = item('o', 'fixed_window', { kind: 'duration', ms: HOUR }, 300, 'output');
    const r = await tryReserve(store, [total, outputOnly], 100, 1000, true);
    expect(r).toMatchObject({ ok: true, output: 300 });
    const r2 = await tryReserve(store, [total, outputOnly], 50, 1000, true);
    expect(r2.ok).toBe(false); // output limit exhausted: no room for even one token
  });

  it('settle replaces the reservation with real usage exactly once', async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryCounterStore(clock, 'UTC');
    const limit = item('k', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000);
    await store.reserve({ id: 'a', items: [limit], input: 100, output: 400, clamp: false, minOutput: 1 });
    expect((await store.peek([limit]))[0].used).toBe(500);
    expect(await store.openReservations()).toBe(1);
    await store.settle('a', { input: 90, output: 37, request: 1 });
    await store.settle('a', { input: 90, output: 37, request: 1 });
    expect((await store.peek([limit]))[0].used).toBe(127);
    expect(await store.openReservations()).toBe(0);
  });

  it('a settle after the window rolled does not touch the new window', async () => {
    const clock = new ManualClock(T0 + HOUR - 10);
    const store = new MemoryCounterStore(clock, 'UTC');
    const limit = item('k', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000);
    await store.reserve({ id: 'a', items: [limit], input: 10, output: 500, clamp: false, minOutput: 1 });
    clock.advance(20);
    await store.reserve({ id: 'b', items: [limit], input: 10, output: 10, clamp: false, minOutput: 1 });
    await store.settle('a', { input: 10, output: 1, request: 1 });
    expect((await store.peek([limit]))[0].used).toBe(20);
  });

  it('restore raises counters to the given usage, idempotently', async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryCounterStore(clock, 'UTC');
    const limit = item('k', 'fixed_window', { kind: 'duration', ms: HOUR }, 1000);
    await store.reserve({ id: 'a', items: [limit], input: 100, output: 0, clamp: false, minOutput: 1 });
    await store.restore([{ item: limit, used: 300 }]);
    await store.restore([{ item: limit, used: 300 }]);
    expect((await store.peek([limit]))[0].used).toBe(300);
    await store.restore([{ item: limit, used: 50 }]);
    expect((await store.peek([limit]))[0].used).toBe(300);
  });
});
