// A Redis that answers but is set up in a way that would lose or misplace the counters: a database number
// it does not have, and an eviction policy that drops keys when it is full. Each must be said at start-up.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadPolicy } from '../src/config/index.js';
import type { CounterItem, CounterStore } from '../src/limits/counter-store.js';
import { openCounterStore } from '../src/limits/open-counter-store.js';
import { StoreUnavailableError } from '../src/limits/store-errors.js';
import { writeConfig } from './helpers/processes.js';
import { usePrivateRedis } from './helpers/redis-servers.js';

const redis = usePrivateRedis();

const daily: CounterItem = { key: 'tg:{misconf}:daily:fixed_window', algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 1000, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };

/** The store `storage.counters: url` opens, with every line it logged. */
async function open(url: string): Promise<{ store: CounterStore; logs: string[] }> {
  const logs: string[] = [];
  const log = { info: (obj: object, msg: string) => void logs.push(msg + JSON.stringify(obj)), warn: (obj: object, msg: string) => void logs.push(msg + JSON.stringify(obj)) };
  const policy = loadPolicy([writeConfig(`storage: {counters: "${url}", on_store_error: fail_closed, timeout_ms: 100}\n`)], {});
  return { store: await openCounterStore(policy, log), logs };
}

describe('a database number the Redis does not have (redis://host:port/99, 16 databases)', () => {
  it('is refused and named at start-up: nothing is counted in database 0 instead', async () => {
    const raw = new Redis(redis.url);
    await raw.flushall();
    const { store, logs } = await open(`${redis.url}/99`);
    try {
      expect(logs.find((l) => l.startsWith('counter store unreachable'))).toMatch(/DB index is out of range.*databases/);
      await expect(store.reserve({ id: 'db1', items: [daily], input: 10, output: 0, clamp: false, minOutput: 1 })).rejects.toBeInstanceOf(StoreUnavailableError);
      // Before: ioredis logged the refused SELECT and went on in database 0, where the counters then lived.
      expect(await raw.dbsize()).toBe(0);
    } finally {
      await store.close();
      await raw.quit();
    }
  });
});

describe('a Redis that may evict keys when it is full', () => {
  it('is warned about at start-up, naming its policy; a Redis set to noeviction is not', async () => {
    const raw = new Redis(redis.url);
    await raw.config('SET', 'maxmemory', '64mb');
    try {
      await raw.config('SET', 'maxmemory-policy', 'volatile-lru');
      const evicting = await open(redis.url);
      await evicting.store.close();
      expect(evicting.logs.find((l) => l.startsWith('counter store may evict keys'))).toMatch(/volatile-lru.*noeviction/);

      await raw.config('SET', 'maxmemory-policy', 'noeviction');
      const keeping = await open(redis.url);
      await keeping.store.close();
      expect(keeping.logs.join('\n')).toContain('counters shared in Redis');
      expect(keeping.logs.join('\n')).not.toContain('may evict');
    } finally {
      await raw.config('SET', 'maxmemory', '0');
      await raw.quit();
    }
  });
});
