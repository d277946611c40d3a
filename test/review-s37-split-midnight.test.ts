// Review s37 of ea4b631: a call admitted locally (fail_open, Redis slow) at 23:59:59 in server.timezone, still
// running when it is placed in Redis after midnight. Injected clock (ManualClock) for the gateway's side and
// for Redis's scripts (timeOverride); a private redis-server behind a delay proxy; a zone with daylight saving.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/util/clock.js';
import { failOpenStore, limitsOf, reserverIn } from './helpers/fail-open-store.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { startDelayProxy } from './helpers/redis-delay-proxy.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();

const ZONE = 'Europe/Berlin';

describe('review s37: a local call admitted just before midnight and placed after it', () => {
  // What holds: the placement leaves the day out (OutageCounters.running: its window ended), so the new day
  // is not charged with yesterday's call, neither while it runs nor once it settles; the sliding hour, whose
  // window goes on, holds what it reserved, then what it used, and nothing stays open.
  it("charges the new day nothing and the sliding hour the call's usage", async () => {
    const clock = new ManualClock(Date.parse('2026-03-10T22:59:59.000Z')); // 23:59:59 in Berlin (CET)
    const proxy = await startDelayProxy(redis.port);
    const { primary, store } = await failOpenStore(proxy.url, 'midnight', { timeOverride: clock, clock, timezone: ZONE });
    const org = `s37m${Date.now()}`;
    const limits = limitsOf(org);
    const daily = limits.daily();
    const hourly = limits.slidingHour();
    const reserve = reserverIn(store, [daily, hourly]);
    try {
      expect((await reserve('warm', 0)).ok).toBe(true);
      await store.settle('warm', { input: 0, output: 0, request: 0 });
      await store.quiesce();
      proxy.setDelay(300);
      expect((await reserve('a', 100)).ok).toBe(true); // locally, at 23:59:59
      await until(() => store.probing, 5000);
      clock.set(Date.parse('2026-03-10T23:00:01.000Z')); // 00:00:01 on the 11th
      proxy.setDelay(0);
      // After the hold: 'a' placed, without the day.
      await until(async () => store.mode === 'ok' && (await primary.openReservations()) === 1, 10_000);
      expect((await primary.peek([daily, hourly])).map((s) => s.used)).toEqual([0, 100]);
      await store.settle('a', { input: 80, output: 0, request: 1 });
      await until(async () => {
        await store.quiesce();
        return store.backlog === 0 && (await store.openReservations()) === 0;
      }, 5000);
      expect((await primary.peek([daily, hourly])).map((s) => s.used)).toEqual([0, 80]);
    } finally {
      await store.close();
      await proxy.close();
    }
  }, 20_000);
});
