// A gateway of a release from before the admitted count (2026-12-03, ee99bb4 and earlier) started on the
// Redis of newer ones, as in a rolling upgrade's rollback or an old pod restarted: it sets every
// organization's presence marker to 1 at start. From a rolling-upgrade QA pass: the newer gateways read
// that 1 as their admitted count going back (a replica promoted behind), logged that Redis had lost its
// counters and rebuilt them all from the ledger as lost (token buckets at the most they may hold).
import { expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { CounterItem } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { usePrivateRedis } from './helpers/redis-servers.js';

const redis = usePrivateRedis();

it("an older release's start (the presence marker set to 1) is no loss: nothing is rebuilt and the limit still holds", async () => {
  const org = 'olderrelease';
  const clock = new ManualClock(Date.UTC(2026, 11, 6, 12));
  const client = createRedisClient(redis.url, 1000);
  expect(await waitReady(client, 5000)).toBe(true);
  const store = new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, timeOverride: clock });
  const daily: CounterItem = { key: `tg:{${org}}:org:daily:fixed_window`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 100, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
  let rebuilds = 0;
  await store.rebuildWhenLost([org], async () => void rebuilds++);
  const ask = (id: string, input: number) => store.reserve({ id, items: [daily], input, output: 0, clamp: false, minOutput: 0 });
  for (const id of ['a', 'b', 'c']) {
    expect((await ask(id, 30)).ok).toBe(true);
    await store.settle(id, { input: 30, output: 0, request: 1 });
  }
  // What an older gateway's start does (RedisCounterStore.rebuildWhenLost in ee99bb4): SET, not SET NX.
  const older = new Redis(redis.url);
  await older.set(`tg:{${org}}:present`, '1');
  await older.quit();
  expect((await ask('d', 10)).ok).toBe(true);
  expect((await ask('e', 1)).ok).toBe(false);
  expect(rebuilds).toBe(0);
  await store.close();
});
