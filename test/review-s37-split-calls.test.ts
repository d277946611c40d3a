// Review s37 of ea4b631 (LocalCallsMoved.move leaves out the fixed windows a local call was admitted in that
// have ended; the call stays local in those and settles the rest in Redis): a split call that settles
// during a second outage, with a sliding window and a token bucket beside the fixed windows. A private
// redis-server behind a delay proxy; ResilientStore over RedisCounterStore, as in
// test/review-placement-window-ended.test.ts.
import { describe, expect, it } from 'vitest';
import { failOpenStore, limitsOf, reserverIn } from './helpers/fail-open-store.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { startDelayProxy } from './helpers/redis-delay-proxy.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();

const WINDOW_MS = 2000;

describe('review s37: a call split at its placement (a fixed window ended) that settles during a second outage', () => {
  // What holds: the split call's settlement during the second outage is kept (under its placement's id)
  // and applied once Redis is back; the daily window, the sliding window and the bucket hold its usage
  // once (with the second outage's own local call), nothing is left open (openReservations 0, backlog 0).
  it('counts it once in every limit whose window goes on, and leaves nothing open', async () => {
    const proxy = await startDelayProxy(redis.port);
    const { primary, store } = await failOpenStore(proxy.url, 'split');
    const org = `s37s${Date.now()}`;
    const limits = limitsOf(org);
    const short = limits.fixed(WINDOW_MS, 1000);
    const daily = limits.daily();
    const hourly = limits.slidingHour();
    const bucket = limits.dailyBucket();
    const items = [short, daily, hourly, bucket];
    const reserve = reserverIn(store, items);
    try {
      expect((await reserve('warm', 0)).ok).toBe(true);
      await store.settle('warm', { input: 0, output: 0, request: 0 });
      await store.quiesce();
      // First outage, just after a short window began: 'a' is admitted locally in it.
      await until(() => Date.now() % WINDOW_MS < 50, 5000);
      const admittedIn = Math.floor(Date.now() / WINDOW_MS);
      proxy.setDelay(300);
      expect((await reserve('a', 100)).ok).toBe(true);
      await until(() => store.mode === 'fail_open' && store.probing, 5000);
      proxy.setDelay(0);
      // Back; after the 2 s hold 'a' is placed without its short window (ended): only its placement is open in Redis.
      await until(async () => store.mode === 'ok' && store.backlog === 0 && (await primary.openReservations()) === 1, 10_000);
      expect(Math.floor(Date.now() / WINDOW_MS)).toBeGreaterThan(admittedIn);
      expect((await primary.peek([short, daily, hourly])).map((s) => s.used)).toEqual([0, 100, 100]);
      // Second outage: 'b' is admitted locally, and 'a' ends during it.
      proxy.setDelay(300);
      expect((await reserve('b', 30)).ok).toBe(true);
      await until(() => store.probing, 5000);
      await store.settle('a', { input: 80, output: 0, request: 1 });
      await store.settle('b', { input: 30, output: 0, request: 1 });
      expect(store.backlog).toBeGreaterThan(0); // a's Redis settlement and b's usage wait for Redis
      proxy.setDelay(0);
      await until(async () => {
        await store.quiesce();
        return store.mode === 'ok' && store.backlog === 0 && (await store.openReservations()) === 0;
      }, 10_000);
      const [dailyUsed, hourlyUsed, bucketUsed] = (await primary.peek([daily, hourly, bucket])).map((s) => s.used);
      expect({ dailyUsed, hourlyUsed }).toEqual({ dailyUsed: 110, hourlyUsed: 110 });
      // A bucket drains (10,000 a day: under 2 tokens in the test's seconds).
      expect(bucketUsed).toBeGreaterThan(105);
      expect(bucketUsed).toBeLessThanOrEqual(110);
    } finally {
      await store.close();
      await proxy.close();
    }
  }, 30_000);
});
