// Review s40 (calendar): rolling windows across a DST hour, and `tollgate usage --since` on DST days. Sliding
// windows and token buckets are fixed lengths of real time (README "How limits are enforced"), so the hour
// clocks repeat or skip changes nothing: a 1-day sliding window spent at 01:30 EDT on the day New York falls
// back frees its slot 24 real hours (plus a slot) later, on memory and on Redis alike. `--since today`,
// `yesterday`, `month` and dates are local midnights (README "Reports from the ledger"), São Paulo's 4 Nov
// 2018 beginning at 01:00.
import { describe, expect, it } from 'vitest';
import type { CounterItem } from '../src/limits/counter-store.js';
import { parseTime } from '../src/ledger/usage-report.js';
import { ManualClock } from '../src/util/clock.js';
import { useMemoryAndRedisStores } from './helpers/memory-and-redis-stores.js';

const FACTORIES = useMemoryAndRedisStores();
const HOUR = 3_600_000;
// 01:30 EDT on Sun 1 Nov 2026, the first of the two 01:30s in New York.
const T = Date.parse('2026-11-01T05:30:00Z');

describe.each(FACTORIES)('rolling windows across New York’s repeated hour, %s store', (_name, factory) => {
  const item = (algorithm: 'sliding_window' | 'token_bucket'): CounterItem => ({
    key: `tg:{r${Math.random().toString(36).slice(2, 10)}}:${algorithm}`,
    algorithm,
    window: { kind: 'duration', ms: 24 * HOUR },
    max: 1000,
    weights: { input: 1, output: 1, request: 0 },
    mode: 'enforce',
  });

  it('a 1-day sliding window frees its usage 24 real hours and one slot (72 min) after the slot it fell in', async () => {
    const clock = new ManualClock(T);
    const store = await factory(clock, 'America/New_York');
    const limit = item('sliding_window');
    const reserve = (id: string, n: number) => store.reserve({ id, items: [limit], input: n, output: 0, clamp: false, minOutput: 1 });
    expect((await reserve('a', 1000)).ok).toBe(true);
    // An hour later, at the second 01:30 (EST): still full; the slot (72 min slots from the epoch) leaves at its end + 24 h.
    clock.advance(HOUR);
    const refused = await reserve('b', 1);
    expect(refused.ok).toBe(false);
    const slotMs = (24 * HOUR) / 20;
    const leaves = (Math.floor(T / slotMs) + 21) * slotMs;
    expect(refused.states[0].resetAtMs).toBe(leaves);
    clock.set(leaves - 1);
    expect((await reserve('c', 1)).ok).toBe(false);
    clock.set(leaves);
    expect((await reserve('d', 1000)).ok).toBe(true);
  });

  it('a 1-day token bucket drains at 1000 per 24 real hours through the repeated hour', async () => {
    const clock = new ManualClock(T);
    const store = await factory(clock, 'America/New_York');
    const limit = item('token_bucket');
    const reserve = (id: string, n: number) => store.reserve({ id, items: [limit], input: n, output: 0, clamp: false, minOutput: 1 });
    expect((await reserve('a', 1000)).ok).toBe(true);
    // 2.4 hours (across the repeated 01:00-02:00) drain exactly 100.
    clock.advance(2.4 * HOUR);
    expect((await reserve('b', 101)).ok).toBe(false);
    expect((await reserve('c', 100)).ok).toBe(true);
  });
});

describe('tollgate usage --since on DST days (parseTime)', () => {
  it('São Paulo, 4 Nov 2018 (began at 01:00 local, 03:00Z): today, yesterday, month, a date and a skipped time', () => {
    const now = Date.parse('2018-11-04T15:00:00Z');
    const tz = 'America/Sao_Paulo';
    expect(new Date(parseTime('today', now, tz)).toISOString()).toBe('2018-11-04T03:00:00.000Z');
    expect(new Date(parseTime('yesterday', now, tz)).toISOString()).toBe('2018-11-03T03:00:00.000Z');
    expect(new Date(parseTime('month', now, tz)).toISOString()).toBe('2018-11-01T03:00:00.000Z');
    expect(new Date(parseTime('2018-11-04', now, tz)).toISOString()).toBe('2018-11-04T03:00:00.000Z');
    // 00:30 did not exist that night: moved on by the gap, 01:30 -02.
    expect(new Date(parseTime('2018-11-04T00:30', now, tz)).toISOString()).toBe('2018-11-04T03:30:00.000Z');
  });

  it('Lord Howe the day after its 23.5-hour day, and Kathmandu on 1 March 2028', () => {
    expect(new Date(parseTime('yesterday', Date.parse('2026-10-05T02:00:00Z'), 'Australia/Lord_Howe')).toISOString()).toBe('2026-10-03T13:30:00.000Z');
    expect(new Date(parseTime('today', Date.parse('2026-10-05T02:00:00Z'), 'Australia/Lord_Howe')).toISOString()).toBe('2026-10-04T13:00:00.000Z');
    const ktm = Date.parse('2028-03-01T00:00:00Z'); // 05:45 on 1 March
    expect(new Date(parseTime('yesterday', ktm, 'Asia/Kathmandu')).toISOString()).toBe('2028-02-28T18:15:00.000Z');
    expect(new Date(parseTime('month', ktm, 'Asia/Kathmandu')).toISOString()).toBe('2028-02-29T18:15:00.000Z');
  });
});
