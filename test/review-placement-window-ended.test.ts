// Review (placement of fail-open local calls, LocalCallsMoved): a call admitted locally in a fixed window
// that has ended by the time the call is placed in Redis (the placement waits for the 2 s hold after
// recovery). A private redis-server behind a delay proxy; ResilientStore over RedisCounterStore; a fixed
// window of 2 s (a duration window, aligned to the epoch, so no midnight is involved).
import { describe, expect, it } from 'vitest';
import { failOpenStore, limitsOf, reserverIn } from './helpers/fail-open-store.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { startDelayProxy } from './helpers/redis-delay-proxy.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();

const WINDOW_MS = 2000;

describe('a call admitted locally in a fixed window that ended before it was placed in Redis', () => {
  // Found by review: LocalCallsMoved.move placed the running call with all its items as they were, so Redis
  // counted it in the window current at the placement, not the one it was admitted in, and its settlement
  // then replaced that with its usage there: the new window was charged with a call of the window before
  // (and refused others for its room; the same happens to a daily limit with a call admitted locally just
  // before midnight). The rest of the code counts a call in the window it was admitted in: the replay log
  // replays local usage into the window of its admission, and RedisCounterStore.placeInFlightAgain places a
  // call whose fixed window has ended with nothing there. Now the placement leaves out the windows that have
  // ended: the call stays local in those (its replay into an ended window adds nothing), and settles the
  // rest (here a daily limit, whose day goes on) in Redis. Before: the new short window held 100, then 80.
  it('the new window is not charged with it; the limit whose window goes on holds it', async () => {
    const proxy = await startDelayProxy(redis.port);
    const { primary, store } = await failOpenStore(proxy.url, 'win');
    const org = `win${Date.now()}`;
    const limits = limitsOf(org);
    const short = limits.fixed(WINDOW_MS, 1000);
    const daily = limits.daily();
    const reserve = reserverIn(store, [short, daily]);
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
      const [shortHeld, dailyHeld] = (await primary.peek([short, daily])).map((s) => s.used);
      await store.settle('a', { input: 80, output: 0, request: 1 });
      await until(async () => {
        await store.quiesce();
        return store.backlog === 0 && (await store.openReservations()) === 0;
      }, 5000);
      const [shortUsed, dailyUsed] = (await primary.peek([short, daily])).map((s) => s.used);
      expect(Math.floor(Date.now() / WINDOW_MS)).toBe(placedIn); // still the window of the placement
      expect({ shortHeld, shortUsed, dailyHeld, dailyUsed }).toEqual({ shortHeld: 0, shortUsed: 0, dailyHeld: 100, dailyUsed: 80 });
    } finally {
      await store.close();
      await proxy.close();
    }
  }, 30_000);
});
