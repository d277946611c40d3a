// on_store_error against a real Redis that is killed, restarted and slowed down: bounded answers, the
// mode in force, fail-open local shares and their reconciliation, per-limit overrides, no lost settlements.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { CounterItem } from '../src/limits/counter-store.js';
import { fitsAtMs } from '../src/limits/refusal-error.js';
import { StoreUnavailableError } from '../src/limits/store-errors.js';
import type { OnStoreError } from '../src/config/policy.js';
import { killableRedis, STORE_TIMEOUT_MS } from './helpers/killable-redis.js';
import { until } from './helpers/until.js';

const TIMEOUT_MS = STORE_TIMEOUT_MS;
const fx = killableRedis();
const resilient = fx.resilient;

function limit(org: string, name: string, max: number, onStoreError?: OnStoreError, algorithm: CounterItem['algorithm'] = 'fixed_window'): CounterItem {
  return {
    key: `tg:{${org}}:${name}:${algorithm}`,
    algorithm,
    window: { kind: 'calendar', unit: 'day' },
    max,
    weights: { input: 1, output: 1, request: 0 },
    mode: 'enforce',
    ...(onStoreError ? { onStoreError } : {}),
  };
}
const org = (): string => `r${Math.random().toString(36).slice(2, 10)}`;
let seq = 0;
const id = (): string => `q${seq++}`;


describe('Redis killed', () => {
  it('fail_closed: refuses within the timeout, says so once, and recovers without a restart', async () => {
    const { store, logs, modes } = await resilient('fail_closed');
    const items = [limit(org(), 'daily', 1000)];
    expect((await store.reserve({ id: id(), items, input: 10, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    await fx.redis.kill();
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await expect(store.reserve({ id: id(), items, input: 10, output: 0, clamp: false, minOutput: 1 })).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(performance.now() - t0).toBeLessThan(TIMEOUT_MS + 50);
    }
    expect(store.mode).toBe('fail_closed');
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(logs[0].msg).toMatch(/unreachable: refusing requests with 503/);
    await fx.redis.restart();
    await until(() => store.mode === 'ok');
    expect(modes).toEqual(['fail_closed', 'ok']);
    const after = await store.reserve({ id: id(), items, input: 10, output: 0, clamp: false, minOutput: 1 });
    expect(after).toMatchObject({ ok: true, states: [{ used: 20 }] }); // counters survived (append-only file)
  });

  it('fail_open: each of N instances admits 1/N of the room left, then replays it into Redis exactly', async () => {
    const o = org();
    const items = [limit(o, 'daily', 900, undefined, 'fixed_window'), limit(o, 'hourly', 2000, undefined, 'sliding_window'), limit(o, 'bucket', 5000, undefined, 'token_bucket')];
    const instances = await Promise.all([0, 1, 2].map(() => resilient('fail_open', 3)));
    let settled = 0;
    // 300 used before the outage.
    for (const { store } of instances) {
      const q = id();
      expect((await store.reserve({ id: q, items, input: 60, output: 40, clamp: false, minOutput: 1 })).ok).toBe(true);
      await store.settle(q, { input: 60, output: 40, request: 1 });
      settled += 100;
    }
    // One more look each (a reservation refunded at once), so every instance has seen all 300.
    for (const { store } of instances) {
      const q = id();
      await store.reserve({ id: q, items, input: 0, output: 0, clamp: false, minOutput: 1 });
      await store.settle(q, { input: 0, output: 0, request: 0 });
    }
    await fx.redis.kill();
    // Each instance may now admit (900 - 300) / 3 = 200 locally.
    for (const { store } of instances) {
      let admitted = 0;
      for (let i = 0; i < 10; i++) {
        const q = id();
        const r = await store.reserve({ id: q, items, input: 30, output: 20, clamp: false, minOutput: 1 });
        if (!r.ok) {
          // Reported against the whole limit: this instance's 40 of room left (of 300) reads as 860 of 900 used.
          expect(r.states[0]).toMatchObject({ max: 900, used: 860 });
          continue;
        }
        admitted += 50;
        await store.settle(q, { input: 30, output: 10, request: 1 }); // 40 really used
        settled += 40;
      }
      expect(admitted).toBe(200);
      expect(store.mode).toBe('fail_open');
    }
    await fx.redis.restart();
    await until(() => instances.every(({ store }) => store.mode === 'ok' && store.backlog === 0));
    const used = (await instances[0].store.peek(items)).map((s) => s.used);
    expect(used[0]).toBe(settled);
    expect(used[1]).toBe(settled);
    expect(used[2]).toBeGreaterThan(settled - 5); // the bucket drains a little meanwhile
    expect(used[2]).toBeLessThanOrEqual(settled);
    for (const { logs } of instances) expect(logs.map((l) => l.msg)).toEqual([expect.stringMatching(/local counters \(1\/3 of each limit\)/), expect.stringMatching(/reachable again/)]);
  });

  it("fail_open: a local token bucket's 429 waits for its own share's drain, not the whole limit's", async () => {
    const o = org();
    // 1000 tokens per hour shared by 2 instances: this one's local bucket holds 500 and drains 500 per hour.
    const bucket = { ...limit(o, 'bucket', 1000, 'fail_open', 'token_bucket'), window: { kind: 'duration' as const, ms: 3_600_000 } };
    const { store } = await resilient('fail_open', 2);
    await fx.redis.kill();
    expect((await store.reserve({ id: id(), items: [bucket], input: 400, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    const refused = await store.reserve({ id: id(), items: [bucket], input: 400, output: 0, clamp: false, minOutput: 1 });
    expect(refused.ok).toBe(false);
    const now = Date.now();
    // Room for 400 comes back once 300 more have drained at 500 per hour: 36 minutes (18 at the whole limit's rate).
    const waitMs = fitsAtMs(bucket, refused.states[0], 400, now) - now;
    expect(waitMs).toBeGreaterThan(0.6 * 3_600_000 - 2_000);
    expect(waitMs).toBeLessThanOrEqual(0.6 * 3_600_000 + 1);
    await fx.redis.restart();
    await until(() => store.mode === 'ok');
  });

  it('per-limit override: a fail_open rate limit is counted locally, a request that also needs a fail_closed budget is refused', async () => {
    const o = org();
    const rate = { ...limit(o, 'rate', 100, 'fail_open', 'sliding_window'), window: { kind: 'duration' as const, ms: 60_000 }, weights: { input: 0, output: 0, request: 1 } };
    const budget = limit(o, 'budget', 1_000_000); // follows storage.on_store_error: fail_closed
    const { store } = await resilient('fail_closed');
    await fx.redis.kill();
    await expect(store.reserve({ id: id(), items: [rate, budget], input: 1, output: 1, clamp: false, minOutput: 1 })).rejects.toBeInstanceOf(StoreUnavailableError);
    expect((await store.reserve({ id: id(), items: [rate], input: 1, output: 1, clamp: false, minOutput: 1 })).ok).toBe(true);
    await fx.redis.restart();
    await until(() => store.mode === 'ok');
  });

  it('a settlement that could not reach Redis is applied when it is back, exactly once', async () => {
    const o = org();
    const items = [limit(o, 'daily', 10_000)];
    const { store } = await resilient('fail_closed');
    const q = id();
    await store.reserve({ id: q, items, input: 100, output: 900, clamp: false, minOutput: 1 });
    await fx.redis.kill();
    await store.settle(q, { input: 100, output: 50, request: 1 }); // queued, returns at once
    await store.settle(q, { input: 100, output: 50, request: 1 });
    await fx.redis.restart();
    await until(() => store.mode === 'ok' && store.backlog === 0);
    expect((await store.peek(items))[0].used).toBe(150);
    expect(await store.openReservations()).toBe(0);
  });
});

describe('Redis slowed down', () => {
  it('adds at most the timeout, then fails closed at once until it answers in time again', async () => {
    const o = org();
    const items = [limit(o, 'daily', 10_000)];
    const { store } = await resilient('fail_closed', 1, fx.proxy.url);
    fx.proxy.setDelay(30); // slow but within the timeout: served, slower
    let t0 = performance.now();
    expect((await store.reserve({ id: id(), items, input: 10, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    fx.proxy.setDelay(1000); // far beyond it
    const q = id();
    t0 = performance.now();
    await expect(store.reserve({ id: q, items, input: 10, output: 0, clamp: false, minOutput: 1 })).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(performance.now() - t0).toBeLessThan(TIMEOUT_MS + 50);
    // A timeout alone only makes the store suspect; a PING that times out too switches the mode.
    expect(store.mode).toBe('ok');
    await until(() => store.mode === 'fail_closed', TIMEOUT_MS + 100);
    t0 = performance.now();
    await expect(store.reserve({ id: id(), items, input: 10, output: 0, clamp: false, minOutput: 1 })).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(performance.now() - t0).toBeLessThan(5);
    fx.proxy.setDelay(0);
    await until(() => store.mode === 'ok' && store.backlog === 0);
    // The reservation whose answer was lost did land in Redis; the cancel queued for it refunded it.
    await until(async () => (await store.peek(items))[0].used === 10);
    const raw = new Redis(fx.redis.url);
    expect(await raw.exists(`tg:{${o}}:res:${q}`)).toBe(0);
    await raw.quit();
  });

  it('response owners: neither recorded nor read while Redis is down (never assumed), both again once it is back', async () => {
    const { store } = await resilient('fail_open');
    const owner = { organization: org(), project: 'web', provider: 'openai' };
    const [before, during] = [`resp_${org()}`, `resp_${org()}`];
    await store.recordResponse(before, owner, 60_000);
    await fx.redis.kill();
    await expect(store.recordResponse(during, owner, 60_000)).rejects.toBeDefined();
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await expect(store.responseOwner(before)).rejects.toBeDefined();
      expect(performance.now() - t0).toBeLessThan(TIMEOUT_MS + 50);
    }
    await fx.redis.restart();
    await until(() => store.mode === 'ok');
    expect(await store.responseOwner(before)).toEqual(owner); // append-only file: it survived
    expect(await store.responseOwner(during)).toBeUndefined();
    await store.recordResponse(during, owner, 60_000);
    expect(await store.responseOwner(during)).toEqual(owner);
  });
});
