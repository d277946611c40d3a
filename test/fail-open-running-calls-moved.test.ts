// Calls admitted against fail-open local counters and still running when the shared store is used again
// are placed in Redis as reservations of what they hold, and settle there (resilient-store.ts
// moveLocalCalls). Left local, they were in no shared counter until they ended: the room they held was
// handed out again meanwhile (test/review-rollover-fail-open-running.test.ts, a gateway process after
// Redis came back empty: 1,390 admitted against 1,000). Here on the store, after a reservation slower than
// the timeout (its PING, behind it on the connection, times out too: an outage, over once the hold after
// recovery ends). A private redis-server behind a delay proxy.
import { describe, expect, it } from 'vitest';
import type { CounterItem } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ResilientStore } from '../src/limits/resilient-store.js';
import { systemClock } from '../src/util/clock.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { startDelayProxy } from './helpers/redis-delay-proxy.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fail-open store on Redis behind a delay proxy (200 ms timeout), one daily limit of 1,000, scripts loaded. */
async function slowableStore(name: string) {
  const proxy = await startDelayProxy(redis.port);
  const client = createRedisClient(proxy.url, 200);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  const primary = new RedisCounterStore(client, { timezone: 'UTC', clock: systemClock, reservationTtlMs: 60_000 });
  const store = new ResilientStore(primary, { defaultMode: 'fail_open', instances: 1, timezone: 'UTC', clock: systemClock, log: { info: () => {}, warn: () => {} }, description: name, probeIntervalMs: 50 });
  const daily: CounterItem = { key: `tg:{${name}${Date.now()}}:daily:fixed_window`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 1000, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
  const reserve = (id: string, input: number) => store.reserve({ id, items: [daily], input, output: 0, clamp: false, minOutput: 0 });
  expect((await reserve('warm', 0)).ok).toBe(true);
  await store.settle('warm', { input: 0, output: 0, request: 0 });
  const used = async (): Promise<number> => (await primary.peek([daily]))[0].used;
  /** The call settles with 80: Redis holds exactly that, and nothing open. */
  const settlesThere = async (id: string): Promise<void> => {
    await store.settle(id, { input: 80, output: 0, request: 1 });
    await store.quiesce();
    for (let i = 0; i < 50 && store.backlog > 0; i++) await sleep(20);
    expect(await used()).toBe(80);
    expect(await primary.openReservations()).toBe(0);
  };
  const close = async (): Promise<void> => {
    await store.close();
    await proxy.close();
  };
  return { proxy, primary, store, reserve, used, settlesThere, close };
}

describe('a timeout, while a call admitted locally is still running', () => {
  it('the call is placed in Redis with what it holds, and its settlement replaces that with its usage', async () => {
    const { proxy, primary, store, reserve, used, settlesThere, close } = await slowableStore('mv');
    try {
      // Slower than the 200 ms timeout: admitted against the local counters; its own attempt, landing late, is cancelled.
      proxy.setDelay(300);
      expect((await reserve('a', 100)).ok).toBe(true);
      proxy.setDelay(0);
      await until(() => store.mode === 'ok', 5000); // back, and the hold after recovery over
      await until(async () => store.backlog === 0 && (await primary.openReservations()) === 1, 5000);
      // Still running: Redis holds its 100 (before, 0: it was counted nowhere until it ended).
      expect(await used()).toBe(100);
      expect((await reserve('b', 950)).ok).toBe(false); // 100 + 950 > 1000
      await settlesThere('a');
    } finally {
      await close();
    }
  });
});

describe('a placement that timed out, retried', () => {
  // A placement that times out is cancelled under its id once the store answers (it may have landed). When
  // its PING answers (a false alarm), the call is placed again at once; under the same id, the cancel sent
  // right after took the new placement too: Redis held nothing for the running call, and its settlement
  // landed nowhere. Seen in CI under load (the test above: 0 open reservations, not 1).
  it('is placed under an id of its own, and the call settles there', async () => {
    const { proxy, primary, store, reserve, used, settlesThere, close } = await slowableStore('mv2');
    try {
      proxy.setDelay(300);
      expect((await reserve('a', 100)).ok).toBe(true); // admitted locally
      await until(() => store.mode === 'fail_open', 5000); // its PING timed out too: an outage
      // The first placement (once the hold after recovery ends) is slower than the timeout; its PING is not.
      let slowed = false;
      store.onModeChange((mode) => {
        if (mode === 'ok' && !slowed) {
          slowed = true;
          proxy.setDelay(300); // before the placement is sent (it follows the mode change)
          setTimeout(() => proxy.setDelay(0), 100); // its PING (at the timeout, 200 ms) answers: a false alarm
        }
      });
      proxy.setDelay(0);
      await until(() => slowed, 10_000);
      await until(async () => store.mode === 'ok' && store.backlog === 0 && (await primary.openReservations()) === 1, 10_000);
      expect(await used()).toBe(100);
      await settlesThere('a');
    } finally {
      await close();
    }
  }, 30_000);
});
