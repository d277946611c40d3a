// The same test on the memory store and on a private redis-server, the store's clock standing in for Redis
// TIME: for tests of window arithmetic that both stores must agree on.
import { afterAll, beforeAll } from 'vitest';
import type { CounterStore } from '../../src/limits/counter-store.js';
import { MemoryCounterStore } from '../../src/limits/memory-store.js';
import { createRedisClient, waitReady } from '../../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../../src/limits/redis/redis-store.js';
import type { ManualClock } from '../../src/util/clock.js';
import { startRedisServer, type RedisServer } from './redis-servers.js';

export type StoreFactory = (clock: ManualClock, timezone: string) => Promise<CounterStore>;

/**
 * In the calling file: a private redis-server started before its tests and stopped after them, and the two
 * factories, as `describe.each` rows. Stores made are closed after the tests.
 */
export function useMemoryAndRedisStores(): Array<[string, StoreFactory]> {
  let redis: RedisServer | undefined;
  const open: CounterStore[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  }, 30_000);
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
    await redis?.stop();
  });
  const made = (store: CounterStore): CounterStore => {
    open.push(store);
    return store;
  };
  return [
    ['memory', async (clock, timezone) => made(new MemoryCounterStore(clock, timezone))],
    [
      'redis',
      async (clock, timezone) => {
        const client = createRedisClient(redis!.url, 1000);
        if (!(await waitReady(client, 5000))) throw new Error(`no Redis at ${redis!.url}`);
        return made(new RedisCounterStore(client, { timezone, clock, reservationTtlMs: 60_000, timeOverride: clock }));
      },
    ],
  ];
}
