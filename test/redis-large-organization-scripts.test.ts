// The counters of one organization share a hash tag, and restores (the rebuild from the ledger at start)
// and peeks (/metrics headroom, tollgate audit) went to Redis as one script per organization. An
// organization of 10,000 users has 40,000 per-user counters: that one script ran for over a second,
// outliving storage.timeout_ms (so a restart logged "could not rebuild counters from the ledger: Command
// timed out") and blocking Redis for every instance meanwhile. They now go a few hundred keys per script.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { CounterItem } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { systemClock } from '../src/util/clock.js';
import { usePrivateRedis } from './helpers/redis-servers.js';

const LIMITS = 40_000;
// The gateway's default storage.timeout_ms: the whole organization in one script took ~1.2 s here.
const TIMEOUT_MS = 250;
const DAY: CounterItem['window'] = { kind: 'calendar', unit: 'day' };

const server = usePrivateRedis();
let raw: Redis;
let store: RedisCounterStore;

beforeAll(async () => {
  raw = new Redis(server.url);
  const client = createRedisClient(server.url, TIMEOUT_MS);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  store = new RedisCounterStore(client, { timezone: 'UTC', clock: systemClock, reservationTtlMs: 60_000 });
}, 30_000);
afterAll(async () => {
  await store?.close();
  await raw?.quit();
});

const items: CounterItem[] = Array.from({ length: LIMITS }, (_, i) => ({
  key: `tg:{big}:user:u${i}:daily:fixed_window`,
  algorithm: 'fixed_window',
  window: DAY,
  max: 1000,
  weights: { input: 1, output: 1, request: 0 },
  mode: 'enforce',
}));

describe("an organization with 40,000 counters on Redis, storage.timeout_ms 250", () => {
  it('is restored within the timeout, a few hundred keys per script, and peeks back what was restored', async () => {
    const scriptCalls = async (): Promise<number> => {
      const stats = await raw.info('commandstats');
      return [...stats.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const before = await scriptCalls();
    await store.restore(items.map((item, i) => ({ item, used: 1 + (i % 97) })));
    // One script per 256 counters at most (the whole organization took one).
    expect((await scriptCalls()) - before).toBeGreaterThanOrEqual(LIMITS / 256);

    const states = await store.peek(items);
    expect(states.filter((s, i) => s.used !== 1 + (i % 97))).toEqual([]);
  });
});
