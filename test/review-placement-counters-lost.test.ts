// Review (placement of fail-open local calls, LocalCallsMoved): the third way a call is admitted against the
// local counters, besides an outage and a timeout's false alarm: Redis answers but lost its counters and the
// ledger's rebuild is slower than `rebuild_wait_ms` (ResilientStore.countersLost). A private redis-server
// (FLUSHALL: the counters are lost); ResilientStore over RedisCounterStore with a rebuild that takes 1 s
// (a slow ledger; it restores nothing: the ledger has no row of a call still running).
import { describe, expect, it } from 'vitest';
import { failOpenStore, limitsOf, reserverIn } from './helpers/fail-open-store.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();

describe('fail_open: a call admitted locally while lost counters are rebuilt, still running once they are', () => {
  // Fixed (found by review). While the rebuild is slower than rebuild_wait_ms, fail-open calls are admitted against the local
  // counters (countersLost), with the store 'up' and no outage. Once the rebuild is done the store takes
  // calls again, yet the local calls still running were never placed in Redis: move() ran only when a hold
  // after recovery ends (endHold) or a false alarm's PING answers (confirm); the rebuild read the ledger,
  // which has no row of them; placeInFlightAgain places back only reservations Redis held. So the room they
  // hold is handed out again beside them, the very double hand-out LocalCallsMoved exists to prevent
  // (test/review-rollover-fail-open-running.test.ts: 1,390 admitted against 1,000).
  // Expected: with 'a' (100) running, 'b' of 950 is refused once the counters are rebuilt (100 + 950 >
  // 1,000), and 'a' settles its usage into Redis. Before: 'b' was admitted, Redis counted 950, 'a' nowhere.
  // Now the rebuild's end places them (ResilientStore.rebuildWhenLost).
  it('the call is counted in Redis once the counters are rebuilt', async () => {
    const { client, primary, store } = await failOpenStore(redis.url, 'lost', { timeoutMs: 500, rebuildWaitMs: 200 });
    const org = `lost${Date.now()}`;
    const limits = limitsOf(org);
    let rebuilds = 0;
    await store.rebuildWhenLost([org], async () => {
      await new Promise((r) => setTimeout(r, 1000));
      rebuilds++;
    });
    const daily = limits.daily(1000);
    const reserve = reserverIn(store, [daily]);
    try {
      expect((await reserve('warm', 0)).ok).toBe(true);
      await store.settle('warm', { input: 0, output: 0, request: 0 });
      await store.quiesce();
      await client.flushall(); // the counters are lost
      expect((await reserve('a', 100)).ok).toBe(true); // not rebuilt within 200 ms: admitted locally
      expect(store.mode).toBe('ok'); // no outage
      await until(() => rebuilds === 1, 5000);
      await until(async () => store.holdsCounters([org]), 5000);
      // The store takes calls again (the first one through Redis drops the local counters).
      expect((await reserve('probe', 0)).ok).toBe(true);
      await store.settle('probe', { input: 0, output: 0, request: 0 });
      const b = await reserve('b', 950);
      if (b.ok) await store.settle('b', { input: 950, output: 0, request: 1 });
      expect(b.ok).toBe(false);
      await store.settle('a', { input: 80, output: 0, request: 1 });
      await until(async () => {
        await store.quiesce();
        return store.backlog === 0 && (await store.openReservations()) === 0;
      }, 5000);
      expect((await primary.peek([daily]))[0].used).toBe(80);
    } finally {
      await store.close();
    }
  }, 30_000);
});
