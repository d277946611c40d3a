// Review of the held index's entry format changing after 8d8a864 (the working tree adds each item's window
// length: "<amount> <where> <length>" where 8d8a864 writes "<amount> <where>"). A gateway of 8d8a864 and one
// of this tree on one Redis (a rolling upgrade from a build of main, as the soak runs 18 and C9 ran): the
// newer one's restore reads the older one's entries. A misread entry must not fail the restore (a rebuild
// that errors leaves the counters as they are), nor raise a counter above the settled usage.
import { expect, it } from 'vitest';
import { configuredLimits } from '../src/ledger/configured-limits.js';
import type { CounterStore } from '../src/limits/counter-store.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { HELD_NOW as NOW, olderRelease, useStoresOnPrivateRedis } from './helpers/held-index-stores.js';
import { outputLimit } from './helpers/output-limit.js';

const OLD_REV = '8d8a864';
const OLD = (): string => olderRelease(OLD_REV, 'review-held-index-format');
const { open: openStore } = useStoresOnPrivateRedis();

it.each(['fixed_window', 'sliding_window'])("this tree's restore reads a %s reservation noted by 8d8a864", async (algorithm) => {
  const older: typeof RedisCounterStore = (await import(`${OLD()}/src/limits/redis/redis-store.ts`)).RedisCounterStore;
  const clock = new ManualClock(NOW);
  const open = async (Store: typeof RedisCounterStore) => {
    const { store, client } = await openStore({ clock, Store });
    return { store: store as CounterStore, client };
  };
  const { store: a, client: raw } = await open(older);
  const { store: b } = await open(RedisCounterStore);
  await raw.flushall();
  const [{ limit }] = configuredLimits(outputLimit(algorithm));
  // Two items per reservation, so that a misread length shifts the second key.
  const user = { ...limit.item, key: `${limit.item.key}:user:u1` };
  expect((await a.reserve({ id: 'old-call', items: [limit.item, user], input: 0, output: 600, clamp: false, minOutput: 0 })).ok).toBe(true);
  const entries = [limit.item, user].map((item) =>
    algorithm === 'fixed_window'
      ? { item, used: 400, windowStartMs: NOW - (NOW % 3_600_000), settled: true }
      : { item, used: 400, slots: [{ atMs: NOW - 60_000, used: 400 }], kept: true },
  );
  const outcome = await b.restore(entries).then(() => 'restored', (err: Error) => err.message);
  expect(outcome).toBe('restored');
  expect((await b.peek([limit.item, user])).map((s) => s.used)).toEqual([1000, 1000]);
});
