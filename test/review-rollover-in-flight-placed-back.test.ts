// Redis loses its counters (FLUSHDB/FLUSHALL, an empty restart) just after midnight while calls admitted
// before midnight are still running. After the rebuild, the instance places its running calls'
// reservations back "in the current window" (redis-store.ts, placeInFlightAgain): yesterday's calls land in
// today's counter, and their settlements then leave their real usage there. Their ledger rows carry
// yesterday's admission time, so the ledger (and a later rebuild, the dashboard, `tollgate audit`) count
// them in yesterday, while today's counter holds them too: today's budget is short by their usage (by
// their whole reservation while they run). Seen on real gateway processes at 01:00:00 UTC in
// Etc/GMT+1 (one gateway, SQLite ledger, FLUSHDB at 00:00:01.1 local, 30 calls of 28 tokens admitted in the
// last 1.5 s of the day and running 3 s): the new day's Redis counter read 1,924 after quiesce, the new
// day's ledger rows 1,224. Without the flush (same run, another Redis) the counter equalled the ledger.
// Deterministic: the store's clock (standing in for Redis TIME) is injected.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { CounterItem } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { usePrivateRedis } from './helpers/redis-servers.js';

const MIDNIGHT = Date.UTC(2026, 10, 21); // 00:00 UTC, the zone of the store

const redis = usePrivateRedis();

async function setup(ledgerToday: () => number) {
  const clock = new ManualClock(MIDNIGHT - 1500);
  const client = createRedisClient(redis.url, 1000);
  if (!(await waitReady(client, 5000))) throw new Error(`no Redis at ${redis.url}`);
  const store = new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, timeOverride: clock });
  const org = `ro${Math.random().toString(36).slice(2, 10)}`;
  const daily: CounterItem = { key: `tg:{${org}}:org:daily:fixed_window`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 1000, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
  let rebuilds = 0;
  // The rebuild restores what the ledger shows for the current day (rows carry their admission time).
  await store.rebuildWhenLost([org], async () => {
    rebuilds++;
    await store.restore([{ item: daily, used: ledgerToday(), windowStartMs: MIDNIGHT, settled: true }]);
  });
  const ask = (id: string, input: number) => store.reserve({ id, items: [daily], input, output: 0, clamp: false, minOutput: 1 });
  return { clock, store, daily, ask, rebuilds: () => rebuilds };
}

describe('a Redis flush just after midnight, with calls admitted before it still running', () => {
  it('control, no flush: a call admitted at 23:59:58.5 and settled after midnight leaves today’s counter alone', async () => {
    const { clock, store, daily, ask } = await setup(() => 0);
    try {
      expect((await ask('yesterday', 300)).ok).toBe(true);
      clock.set(MIDNIGHT + 1000);
      expect((await ask('today', 10)).states[0].used).toBe(10);
      await store.settle('yesterday', { input: 250, output: 0, request: 1 });
      await store.settle('today', { input: 10, output: 0, request: 1 });
      expect((await store.peek([daily]))[0].used).toBe(10);
    } finally {
      await store.close();
    }
  });

  it('today’s counter holds today’s calls only: yesterday’s running call is not placed back into today', async () => {
    let ledgerToday = 0; // no row admitted today yet when the rebuild reads the ledger
    const { clock, store, daily, ask, rebuilds } = await setup(() => ledgerToday);
    try {
      // 23:59:58.5: a call is admitted and runs across midnight.
      expect((await ask('yesterday', 300)).ok).toBe(true);
      // 00:00:01: Redis loses its counters; the next request notices and rebuilds.
      clock.set(MIDNIGHT + 1000);
      const c = new Redis(redis.url);
      await c.flushall();
      await c.quit();
      const today = await ask('today', 10);
      expect(rebuilds()).toBe(1);
      expect(today.ok).toBe(true);
      // Only today's 10 is today's (observed: 310, yesterday's reservation placed back into today).
      expect.soft(today.states[0].used).toBe(10);
      // Yesterday's call ends with 250 used; its ledger row says yesterday, 23:59:58.5.
      await store.settle('yesterday', { input: 250, output: 0, request: 1 });
      await store.settle('today', { input: 10, output: 0, request: 1 });
      ledgerToday = 10;
      // Observed: 260 (yesterday's 250 counted in today), while the ledger shows 10 for today.
      expect.soft((await store.peek([daily]))[0].used).toBe(10);
      // So 990 of today's 1,000 are left: a call of 990 fits (observed: refused, 740 left).
      expect((await ask('rest', 990)).ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});
