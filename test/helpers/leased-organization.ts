// One organization whose gateway instances keep budget leases over a real Redis, for the tests of counters
// Redis loses while slices are held: a daily limit, the ledger as a stand-in (the usage settled so far,
// restored by the rebuild as rebuild-counters.ts does), and a ManualClock that also stands in for Redis
// TIME, so no lease ends unless a test moves it.
import { afterAll, beforeAll, expect } from 'vitest';
import { Redis } from 'ioredis';
import type { CounterItem, CounterStore, LeaseStats, ReserveRequest } from '../../src/limits/counter-store.js';
import { LeasedStore } from '../../src/limits/leased-store.js';
import { createRedisClient, waitReady } from '../../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../../src/limits/redis/redis-store.js';
import { ManualClock } from '../../src/util/clock.js';
import { until } from './until.js';
import { startRedisServer, type RedisServer } from './redis-servers.js';

export const T0 = Date.UTC(2026, 0, 15, 12); // mid-day: the daily window does not end during a test
export const DAY: CounterItem['window'] = { kind: 'calendar', unit: 'day' };
export const MAX = 1000;
export const CALL = 10; // every call reserves and uses 10 tokens

const dayStart = (ms: number): number => ms - (ms % 86_400_000);

export type Instance = CounterStore & { leaseStats(): LeaseStats };

export interface LeasedOrganizationOptions {
  redisUrl: string;
  leaseMs: number;
  /** Every store made, for the test to close. */
  stores: CounterStore[];
  /** Wraps each instance's Redis store before the leases (a test's spy). */
  wrapRedis?: (redis: RedisCounterStore) => CounterStore;
}

/** An organization with a daily limit of MAX tokens, its ledger stand-in, and instances of the gateway. */
export function leasedOrganization({ redisUrl, leaseMs, stores, wrapRedis }: LeasedOrganizationOptions) {
  const org = `lc${Math.random().toString(36).slice(2, 10)}`;
  const daily: CounterItem = { key: `tg:{${org}}:org:daily:fixed_window`, algorithm: 'fixed_window', window: DAY, max: MAX, weights: { input: 1, output: 0, request: 0 }, mode: 'enforce' };
  // Another limit of the same organization that no instance holds a lease on: a request needing it goes to Redis.
  const project: CounterItem = { ...daily, key: `tg:{${org}}:project:p:daily:fixed_window`, max: 1_000_000 };
  const clock = new ManualClock(T0);
  const state = { ledger: 0, rebuilds: 0 };
  let seq = 0;

  /** A gateway instance with budget leases (`leased: false`: without, the Redis store itself). */
  async function instance(leased = true): Promise<Instance> {
    const client = createRedisClient(redisUrl, 2000);
    if (!(await waitReady(client, 5000))) throw new Error('no Redis');
    const leases = leased ? { leases: { ms: leaseMs, clock } } : {};
    const redis = new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 600_000, timeOverride: clock, ...leases });
    const store = leased ? new LeasedStore(wrapRedis?.(redis) ?? redis, { leaseMs, clock }) : Object.assign(redis, { leaseStats: () => ({ localAdmissions: 0, granted: 0, open: 0 }) });
    // What the gateway's rebuild does: every counter's settled part raised to the ledger's settled usage.
    await store.rebuildWhenLost!([org], async () => {
      state.rebuilds++;
      await store.restore([{ item: daily, used: state.ledger, windowStartMs: dayStart(clock.now()), settled: true }]);
    });
    stores.push(store);
    return store;
  }

  /** One call of CALL tokens on `items`, settled at once (its usage goes to the ledger); whether it was admitted. */
  async function call(store: CounterStore, items: CounterItem[] = [daily]): Promise<boolean> {
    const req: ReserveRequest = { id: `${org}-${++seq}`, items, input: CALL, output: 0, clamp: false, minOutput: 0 };
    const outcome = await store.reserve(req);
    if (!outcome.ok) return false;
    await store.settle(req.id, { input: CALL, output: 0, request: 1 });
    state.ledger += CALL;
    return true;
  }

  /** Makes `store` hold a lease on the daily limit: 4 exact calls (busy), then the slice asked for is granted. */
  async function takeLease(store: Instance): Promise<void> {
    for (let i = 0; i < 4; i++) expect(await call(store)).toBe(true);
    await until(async () => store.leaseStats().open === 1, 5000);
  }

  /**
   * `pending`, the clock moving on by `step` every few ms until it settles: a rebuild waiting out the slices
   * granted before a loss waits for `leaseMs` of it. Returns its value and how far the clock moved.
   */
  async function ticking<T>(pending: Promise<T>, step = 1000): Promise<{ value: T; waited: number }> {
    const from = clock.now();
    let done = false;
    pending.then(
      () => (done = true),
      () => (done = true),
    );
    while (!done) {
      await new Promise((r) => setTimeout(r, 5));
      if (!done) clock.advance(step);
    }
    return { value: await pending, waited: clock.now() - from };
  }

  return { org, daily, project, clock, state, instance, call, takeLease, ticking };
}

export type LeasedOrganization = ReturnType<typeof leasedOrganization>;

/** A test file's private redis-server, a plain client on it, and the stores its tests make (closed after). */
export interface PrivateRedis {
  server: RedisServer;
  raw: Redis;
  stores: CounterStore[];
}

/** Starts a private redis-server before the file's tests and stops it, and every store made, after them. */
export function privateRedis(): PrivateRedis {
  const env = { stores: [] as CounterStore[] } as PrivateRedis;
  beforeAll(async () => {
    env.server = await startRedisServer();
    env.raw = new Redis(env.server.url);
  }, 30_000);
  afterAll(async () => {
    await Promise.all(env.stores.map((s) => s.close().catch(() => {})));
    await env.raw?.quit();
    await env.server?.stop();
  });
  return env;
}
