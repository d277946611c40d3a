// Review s37 of ea4b631 (LocalCallsMoved.move leaves out the fixed windows a local call was admitted in that
// have ended): a split placement that fails and is retried. A private redis-server behind a delay proxy;
// ResilientStore over RedisCounterStore, as in test/review-placement-window-ended.test.ts; the placement is
// slowed past the 200 ms timeout as it is sent, as test/helpers/review-placement-store.ts does.
import { describe, expect, it } from 'vitest';
import type { ReserveRequest } from '../src/limits/counter-store.js';
import { failOpenStore, limitsOf, reserverIn } from './helpers/fail-open-store.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { startDelayProxy } from './helpers/redis-delay-proxy.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();

const WINDOW_MS = 2000;

describe('review s37: a split placement that fails (Redis slow again as it is sent), then is retried', () => {
  // What holds: the failed attempt (already without the ended window) may land late and is cancelled; the
  // retry, after the next hold, places the call again without it; the call ends held once in the daily
  // window, nothing in the short one, and every map of LocalCallsMoved is empty once it settles.
  it('ends held once where its window goes on, the failed attempt cancelled', async () => {
    const proxy = await startDelayProxy(redis.port);
    const { primary, store } = await failOpenStore(proxy.url, 'retry');
    const org = `s37r${Date.now()}`;
    const limits = limitsOf(org);
    const short = limits.fixed(WINDOW_MS, 1000);
    const daily = limits.daily();
    const reserve = reserverIn(store, [short, daily]);
    // The first placement is slowed past the 200 ms timeout and its PING too (a real outage), as it is sent.
    const placements: string[][] = [];
    const inRedis = primary.reserve.bind(primary);
    primary.reserve = (req: ReserveRequest) => {
      if (req.id.includes('~moved')) {
        placements.push([req.id, ...req.items.map((i) => i.key.split(':').at(-1)!)]);
        if (placements.length === 1) {
          proxy.setDelay(300);
          setTimeout(() => proxy.setDelay(0), 250);
        }
      }
      return inRedis(req);
    };
    const moved = (store as any).moved as { moving: Map<string, unknown>; movedAs: Map<string, string>; attempts: Map<string, number> };
    try {
      expect((await reserve('warm', 0)).ok).toBe(true);
      await store.settle('warm', { input: 0, output: 0, request: 0 });
      await store.quiesce();
      await until(() => Date.now() % WINDOW_MS < 50, 5000);
      proxy.setDelay(300);
      expect((await reserve('a', 100)).ok).toBe(true);
      await until(() => store.probing, 5000);
      proxy.setDelay(0);
      await until(async () => placements.length === 2 && moved.movedAs.has('a') && store.mode === 'ok' && store.backlog === 0, 15_000);
      expect(placements).toEqual([
        ['a~moved1', 'daily'],
        ['a~moved2', 'daily'],
      ]);
      expect(await primary.openReservations()).toBe(1);
      expect((await primary.peek([daily]))[0].used).toBe(100);
      await store.settle('a', { input: 80, output: 0, request: 1 });
      await until(async () => {
        await store.quiesce();
        return store.backlog === 0 && (await store.openReservations()) === 0;
      }, 5000);
      expect((await primary.peek([short, daily])).map((s) => s.used)).toEqual([0, 80]);
      expect([moved.moving.size, moved.movedAs.size, moved.attempts.size]).toEqual([0, 0, 0]);
    } finally {
      await store.close();
      await proxy.close();
    }
  }, 30_000);
});
