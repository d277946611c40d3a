// One fixed-window counter key, two window lengths: while a reload that changes a limit's window rolls across
// gateways, each config counts in its own window. The key's shared fields belong to the first length that
// notes itself in them (`l`); another length keeps its own fields beside them. Before, a reservation in a
// window that started elsewhere started the shared fields afresh, erasing the other length's usage.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CounterItem, CounterStore } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { usePrivateRedis } from './helpers/redis-servers.js';

const MINUTE = 60_000;
// 10:30 UTC: the hour's window began at 10:00, the 61-minute one at 09:56 (windows count from the epoch).
const NOW = Date.UTC(2026, 10, 18, 10, 30);
const KEY = 'tg:{acme}:route:r:output:fixed_window';

const output = (lengthMs: number): CounterItem => ({
  key: KEY,
  algorithm: 'fixed_window',
  window: { kind: 'duration', ms: lengthMs },
  max: 1000,
  weights: { input: 0, output: 1, request: 0 },
  mode: 'enforce',
});
const HOUR = output(60 * MINUTE);
const LONGER = output(61 * MINUTE);
const MONTH: CounterItem = { ...HOUR, window: { kind: 'calendar', unit: 'month' } };
const THIRTY_DAYS: CounterItem = { ...HOUR, window: { kind: 'duration', ms: 30 * 24 * 60 * MINUTE } };

const redis = usePrivateRedis();
let raw: Redis;
const stores: CounterStore[] = [];
beforeAll(async () => {
  raw = new Redis(redis.url);
});
afterAll(async () => {
  for (const s of stores) await s.close();
  raw.disconnect();
});

async function store(clock: ManualClock): Promise<CounterStore> {
  const client = createRedisClient(redis.url, 1000);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  const s = new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, timeOverride: clock });
  stores.push(s);
  return s;
}

const spend = async (s: CounterStore, item: CounterItem, id: string, tokens: number) => {
  const r = await s.reserve({ id, items: [item], input: 0, output: tokens, clamp: false, minOutput: 0 });
  if (r.ok) await s.settle(id, { input: 0, output: tokens, request: 1 });
  return r.ok;
};

describe('a fixed-window key counted in two window lengths', () => {
  it("keeps each length's usage in its own window", async () => {
    await raw.flushall();
    const clock = new ManualClock(NOW);
    const [b, a] = [await store(clock), await store(clock)];
    expect(await spend(b, HOUR, 'b1', 600)).toBe(true);
    expect(await spend(b, HOUR, 'b2', 600)).toBe(false);
    // A gateway reloaded to 61 minutes counts in its own window, from what it finds there (nothing yet).
    expect(await spend(a, LONGER, 'a1', 300)).toBe(true);
    // The hour still holds 600: 600 more do not fit (they did: the 61-minute window had started it afresh).
    expect(await spend(b, HOUR, 'b3', 600)).toBe(false);
    expect((await b.peek([HOUR]))[0].used).toBe(600);
    expect((await a.peek([LONGER]))[0].used).toBe(300);
    const fields = await raw.hgetall(KEY);
    const longerStart = Math.floor(NOW / (61 * MINUTE)) * 61 * MINUTE;
    // e: the later of the two windows' ends, plus a minute's grace (11:00 against 10:57).
    expect(fields).toEqual({ s: String(Date.UTC(2026, 10, 18, 10)), u: '600', l: String(60 * MINUTE), e: String(Date.UTC(2026, 10, 18, 11, 1)), [`s${61 * MINUTE}`]: String(longerStart), [`u${61 * MINUTE}`]: '300' });
  });

  // Found by a QA helper: windows of one length aligned apart (a calendar month and 30 days, both
  // 2,592,000,000 ms) took the shared fields for each other's and started them afresh, as lengths that differ
  // did before (600 + 600 admitted in one month on 1,000, by the gateway whose config never changed).
  it('tells apart two windows of one length that start apart: a calendar month and 30 days', async () => {
    await raw.flushall();
    const clock = new ManualClock(NOW); // 18 November: the month began on the 1st, the 30-day window on the 3rd
    const [b, a] = [await store(clock), await store(clock)];
    expect(await spend(b, MONTH, 'b1', 600)).toBe(true);
    expect(await spend(b, MONTH, 'b2', 600)).toBe(false);
    // Reserved in the 30 days' own fields and settled below it: a settlement carries no window edges, so it
    // finds the reservation's place by the window's start.
    expect((await a.reserve({ id: 'a1', items: [THIRTY_DAYS], input: 0, output: 300, clamp: false, minOutput: 0 })).ok).toBe(true);
    await a.settle('a1', { input: 0, output: 100, request: 1 });
    expect((await a.peek([THIRTY_DAYS]))[0].used).toBe(100);
    expect(await spend(b, MONTH, 'b3', 600)).toBe(false);
    expect((await b.peek([MONTH]))[0].used).toBe(600);
  });

  it('starts a new window of one length without shortening the key\'s life under the other', async () => {
    await raw.flushall();
    const clock = new ManualClock(NOW);
    const s = await store(clock);
    await spend(s, HOUR, 'hour', 100); // the hour's window ends at 11:00
    await spend(s, LONGER, 'long', 100); // the 61-minute one at 10:57: the key's life is not shortened to it
    expect(await raw.pttl(KEY)).toBeGreaterThan(30 * MINUTE);
    clock.advance(28 * MINUTE); // 10:58: a new 61-minute window (to 11:58); the hour's still runs
    await spend(s, LONGER, 'long2', 50);
    expect((await s.peek([HOUR]))[0].used).toBe(100);
    expect((await s.peek([LONGER]))[0].used).toBe(50);
    expect(await raw.pttl(KEY)).toBeGreaterThan(60 * MINUTE); // 11:58 plus the grace, from 10:58
  });

  it('reads a key an older gateway wrote (no l) as its own, and notes its length there', async () => {
    await raw.flushall();
    await raw.hset(KEY, 's', String(Date.UTC(2026, 10, 18, 10)), 'u', '700');
    const clock = new ManualClock(NOW);
    const s = await store(clock);
    expect((await s.peek([HOUR]))[0].used).toBe(700);
    expect(await spend(s, HOUR, 'h1', 400)).toBe(false);
    expect(await spend(s, HOUR, 'h2', 300)).toBe(true);
    // e only once a window starts (the key's life was the older gateway's to set until then).
    expect(await raw.hgetall(KEY)).toEqual({ s: String(Date.UTC(2026, 10, 18, 10)), u: '1000', l: String(60 * MINUTE) });
  });
});
