// For on_store_error tests: a redis-server of the test file's own, behind a delay proxy, that tests may
// kill, restart or slow down (restored after each test), and ResilientStores on it, closed after each test.
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { OnStoreError } from '../../src/config/policy.js';
import type { StoreMode } from '../../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../../src/limits/redis/redis-store.js';
import { ResilientStore } from '../../src/limits/resilient-store.js';
import { systemClock } from '../../src/util/clock.js';
import { startDelayProxy, type DelayProxy } from './redis-delay-proxy.js';
import { startRedisServer, type RedisServer } from './redis-servers.js';

/** Redis command timeout of the stores made here. */
export const STORE_TIMEOUT_MS = 100;

/** One line the store logged. */
export interface Logged {
  level: 'info' | 'warn';
  msg: string;
  obj: Record<string, unknown>;
}

export interface KillableRedis {
  readonly redis: RedisServer;
  /** Delays bytes both ways when told to (`setDelay`); `url` reaches Redis through it. */
  readonly proxy: DelayProxy;
  /** A ResilientStore on `url` (the server itself by default), with what it logs and every mode it reported. */
  resilient(mode: OnStoreError, instances?: number, url?: string): Promise<{ store: ResilientStore; logs: Logged[]; modes: StoreMode[] }>;
}

/** Registers the hooks that start, restore and stop the server; call at the top of a test file. */
export function killableRedis(): KillableRedis {
  let redis: RedisServer;
  let proxy: DelayProxy;
  const stores: ResilientStore[] = [];
  beforeAll(async () => {
    redis = await startRedisServer({ persist: true });
    proxy = await startDelayProxy(redis.port);
  });
  afterEach(async () => {
    // A failed test must not leave Redis dead or slow for the next one.
    proxy.setDelay(0);
    await redis.restart();
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await proxy?.close();
    await redis?.stop();
  });
  return {
    get redis() {
      return redis;
    },
    get proxy() {
      return proxy;
    },
    async resilient(mode, instances = 1, url = redis.url) {
      const made = await resilientStoreOn(url, mode, instances);
      stores.push(made.store);
      return made;
    },
  };
}

/** A ResilientStore on the Redis at `url` (STORE_TIMEOUT_MS, a 50 ms probe), with what it logs and every mode it reported. */
export async function resilientStoreOn(url: string, mode: OnStoreError, instances = 1): Promise<{ store: ResilientStore; logs: Logged[]; modes: StoreMode[] }> {
  const client = createRedisClient(url, STORE_TIMEOUT_MS);
  expect(await waitReady(client, 3000)).toBe(true);
  const primary = new RedisCounterStore(client, { timezone: 'UTC', clock: systemClock, reservationTtlMs: 60_000 });
  const logs: Logged[] = [];
  const logAt = (level: Logged['level']) => (obj: object, msg: string) => void logs.push({ level, msg, obj: obj as Record<string, unknown> });
  const store = new ResilientStore(primary, { defaultMode: mode, instances, timezone: 'UTC', clock: systemClock, log: { info: logAt('info'), warn: logAt('warn') }, description: url, probeIntervalMs: 50 });
  const modes: StoreMode[] = [];
  store.onModeChange((m) => modes.push(m));
  return { store, logs, modes };
}
