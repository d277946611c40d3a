// Review (commit 752dcec, placement of fail-open local calls under `${id}~moved${attempt}`): 50 running calls
// with three limits each (daily fixed window, sliding hour, token bucket) admitted locally, then moved at
// once while the first rounds of placements time out (false alarms, then real outages). A private
// redis-server behind a delay proxy (test/helpers/review-placement-store.ts). Held on the current code.
import { describe, expect, it } from 'vitest';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { admittedLocally, expectCounters, setup } from './helpers/review-placement-store.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();

describe('50 running calls, three limits each, moved at once with a flaky store', () => {
  for (const [kind, holdMs, times] of [
    ['false alarms', 100, 3],
    ['real outages', 250, 2],
  ] as const) {
    it(`${kind} (${times} rounds fail): each call held exactly once, counters end at the settled usage`, async () => {
      const s = await setup(redis.port, redis.url, `many${holdMs}`);
      try {
        const ids = Array.from({ length: 50 }, (_, i) => `c${i}`);
        await admittedLocally(s, ids, 100);
        s.rounds.holdMs = holdMs;
        s.rounds.left = times;
        s.proxy.setDelay(0);
        await until(async () => s.rounds.left === 0 && s.moved.movedAs.size === 50 && s.store.mode === 'ok' && s.store.backlog === 0 && (await s.primary.openReservations()) === 50, 40_000);
        const { live } = await s.records();
        expect(live.length).toBe(50);
        expect(new Set(live.map((id) => id.split('~')[0])).size).toBe(50);
        expectCounters(await s.used(), 50 * 100);
        let total = 0;
        await Promise.all(
          ids.map((id, i) => {
            const input = (i * 7) % 90;
            total += input;
            return s.store.settle(id, { input, output: 0, request: 1 });
          }),
        );
        await s.allSettled();
        expectCounters(await s.used(), total);
      } finally {
        await s.close();
      }
    }, 60_000);
  }
});
