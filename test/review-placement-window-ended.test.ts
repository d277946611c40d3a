// Review (placement of fail-open local calls, LocalCallsMoved): a call admitted locally in a fixed window
// that has ended by the time the call is placed in Redis (the placement waits for the 2 s hold after
// recovery). A private redis-server behind a delay proxy; ResilientStore over RedisCounterStore; a fixed
// window of 2 s (a duration window, aligned to the epoch, so no midnight is involved).
import { describe, expect, it } from 'vitest';
import type { CounterItem } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ResilientStore } from '../src/limits/resilient-store.js';
import { systemClock } from '../src/util/clock.js';
import { middayZone } from './helpers/midday-zone.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { startDelayProxy } from './helpers/redis-delay-proxy.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();

const WINDOW_MS = 2000;

describe('a call admitted locally in a fixed window that ended before it was placed in Redis', () => {
  // KNOWN GAP, left open (it.fails: this test passes once it is fixed, and must then become an `it`). Window
  // attribution: LocalCallsMoved.move places the running call with all its items as they are,
  // so Redis counts it in the window current at the placement, not the one it was admitted in, and its
  // settlement then replaces that with its usage there: the new window is charged with a call of the
  // window before (and refuses others for its room). The rest of the code counts a call in the window it
  // was admitted in: the replay log replays local usage into the window of `atMs`
  // (OutageCounters.settle -> replay.record(items, local.atMs, ...)), and RedisCounterStore.placeInFlightAgain
  // places a call whose fixed window has ended "with nothing, and not settled: the call counted there, not
  // in the window that began (a flush just after midnight charged the new day with yesterday's calls
  // still running)". The same day rollover happens here with a daily limit and a call admitted locally
  // just before midnight.
  // Expected: the window that began after the call's admission holds nothing of it, before and after it
  // settles. Today: 100 (its reservation), then 80 (its usage). Conservative (the new window counts more,
  // never less), so no limit is overshot; a fix must split the settlement: the ended window's part replayed
  // into the window of the admission, the rest settled in Redis.
  it.fails('the new window is not charged with it', async () => {
    const zone = middayZone();
    const proxy = await startDelayProxy(redis.port);
    const client = createRedisClient(proxy.url, 200);
    if (!(await waitReady(client, 5000))) throw new Error('no Redis');
    const primary = new RedisCounterStore(client, { timezone: zone, clock: systemClock, reservationTtlMs: 60_000 });
    const store = new ResilientStore(primary, { defaultMode: 'fail_open', instances: 1, timezone: zone, clock: systemClock, log: { info: () => {}, warn: () => {} }, description: 'win', probeIntervalMs: 50 });
    const short: CounterItem = { key: `tg:{win${Date.now()}}:short`, algorithm: 'fixed_window', window: { kind: 'duration', ms: WINDOW_MS }, max: 1000, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
    const reserve = (id: string, input: number) => store.reserve({ id, items: [short], input, output: 0, clamp: false, minOutput: 0 });
    try {
      expect((await reserve('warm', 0)).ok).toBe(true);
      await store.settle('warm', { input: 0, output: 0, request: 0 });
      await store.quiesce();
      // Just after a window began: the call is admitted (locally) in it, the hold after recovery ends in the next.
      await until(() => Date.now() % WINDOW_MS < 50, 5000);
      const admittedIn = Math.floor(Date.now() / WINDOW_MS);
      proxy.setDelay(300);
      expect((await reserve('a', 100)).ok).toBe(true);
      await until(() => store.mode === 'fail_open', 5000);
      proxy.setDelay(0);
      await until(async () => store.mode === 'ok' && store.backlog === 0 && (await store.primary.openReservations()) === 1, 10_000);
      const placedIn = Math.floor(Date.now() / WINDOW_MS);
      expect(placedIn).toBeGreaterThan(admittedIn); // the setting the test means (the hold is 2 s)
      // Read and settled in the window of the placement (it lands about 0.5 s into it).
      const heldNow = (await primary.peek([short]))[0].used;
      await store.settle('a', { input: 80, output: 0, request: 1 });
      await until(async () => {
        await store.quiesce();
        return store.backlog === 0 && (await store.openReservations()) === 0;
      }, 5000);
      const usedNow = (await primary.peek([short]))[0].used;
      expect(Math.floor(Date.now() / WINDOW_MS)).toBe(placedIn); // still the window of the placement
      expect({ heldNow, usedNow }).toEqual({ heldNow: 0, usedNow: 0 });
    } finally {
      await store.close();
      await proxy.close();
    }
  }, 30_000);
});
