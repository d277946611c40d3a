// Budget leases when Redis goes away: a slice already granted keeps serving until it ends (its budget
// is counted in Redis already), then `on_store_error` decides as without leases; once Redis is back, the
// slice's return is applied and the counter holds exactly the settled usage.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { CounterItem } from '../src/limits/counter-store.js';
import { LeasedStore } from '../src/limits/leased-store.js';
import { monotonicClock } from '../src/util/clock.js';
import { killableRedis } from './helpers/killable-redis.js';
import { until } from './helpers/until.js';

const fx = killableRedis();

describe('budget leases while Redis is killed', () => {
  it('a held slice serves until it ends, fail_closed refuses after, and the counter ends exactly at the settled usage', async () => {
    const { store: resilient } = await fx.resilient('fail_closed');
    const store = new LeasedStore(resilient, { leaseMs: 1500, clock: monotonicClock });
    const org = `o${Math.random().toString(36).slice(2, 10)}`;
    const item: CounterItem = { key: `tg:{${org}}:org:daily:fixed_window`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 1_000_000, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
    let seq = 0;
    let settled = 0;
    const call = async (): Promise<void> => {
      const id = `c${++seq}`;
      const outcome = await store.reserve({ id, items: [item], input: 5, output: 10, clamp: false, minOutput: 1 });
      expect(outcome.ok).toBe(true);
      await store.settle(id, { input: 5, output: 3, request: 1 });
      settled += 8;
    };
    for (let i = 0; i < 10; i++) await call();
    expect(store.leaseStats().open).toBe(1);

    await fx.redis.kill();
    const local = store.leaseStats().localAdmissions;
    for (let i = 0; i < 5; i++) await call();
    expect(store.leaseStats().localAdmissions).toBe(local + 5);

    // The slice ends (its return cannot reach Redis, and waits for it); then requests need Redis.
    await until(async () => store.leaseStats().open === 0, 5000);
    await expect(store.reserve({ id: 'after', items: [item], input: 5, output: 10, clamp: false, minOutput: 1 })).rejects.toThrow(/unavailable|unreachable/i);

    await fx.redis.restart();
    const raw = new Redis(fx.redis.url);
    try {
      await until(async () => Number(await raw.hget(item.key, 'u')) === settled, 8000);
      expect(await raw.keys(`tg:{${org}}:res:*`)).toEqual([]);
    } finally {
      await raw.quit();
    }
  }, 20_000);
});
