// A fail-open ResilientStore (one instance) over a RedisCounterStore on a real Redis, as the unit-level
// fail-open tests build it, and the counter items they use: every limit of one organization (a hash tag).
import type { CounterItem } from '../../src/limits/counter-store.js';
import { createRedisClient, waitReady, type RedisClient } from '../../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../../src/limits/redis/redis-store.js';
import type { RedisStoreOptions } from '../../src/limits/redis/redis-store-options.js';
import { ResilientStore } from '../../src/limits/resilient-store.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { middayZone } from './midday-zone.js';

export interface FailOpenStore {
  zone: string;
  client: RedisClient;
  primary: RedisCounterStore;
  store: ResilientStore;
}

export interface FailOpenStoreOptions extends Partial<Pick<RedisStoreOptions, 'rebuildWaitMs' | 'leases' | 'timeOverride'>> {
  /** The Redis command timeout (ms): 200 by default. */
  timeoutMs?: number;
  clock?: Clock;
  /** `server.timezone`: a zone where it is midday now by default (no test crosses midnight by chance). */
  timezone?: string;
}

/** `name` names the store in its log lines; `url` may be a delay proxy's in front of the server. */
export async function failOpenStore(url: string, name: string, opts: FailOpenStoreOptions = {}): Promise<FailOpenStore> {
  const { timeoutMs = 200, clock = systemClock, timezone, ...redisOptions } = opts;
  const zone = timezone ?? middayZone();
  const client = createRedisClient(url, timeoutMs);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  const primary = new RedisCounterStore(client, { timezone: zone, clock, reservationTtlMs: 60_000, ...redisOptions });
  const store = new ResilientStore(primary, { defaultMode: 'fail_open', instances: 1, timezone: zone, clock, log: { info: () => {}, warn: () => {} }, description: name, probeIntervalMs: 50 });
  return { zone, client, primary, store };
}

const TOKENS = { input: 1, output: 1, request: 0 };

/** Items of organization `org` counting tokens: `limit(org)('daily', ...)` is `tg:{org}:daily`. */
export function limitsOf(org: string) {
  const item = (name: string, algorithm: CounterItem['algorithm'], window: CounterItem['window'], max: number): CounterItem => ({ key: `tg:{${org}}:${name}`, algorithm, window, max, weights: TOKENS, mode: 'enforce' });
  return {
    daily: (max = 10_000, name = 'daily') => item(name, 'fixed_window', { kind: 'calendar', unit: 'day' }, max),
    fixed: (ms: number, max = 1000, name = 'short') => item(name, 'fixed_window', { kind: 'duration', ms }, max),
    slidingHour: (max = 10_000, name = 'hourly') => item(name, 'sliding_window', { kind: 'duration', ms: 3_600_000 }, max),
    dailyBucket: (max = 10_000, name = 'bucket') => item(name, 'token_bucket', { kind: 'calendar', unit: 'day' }, max),
  };
}

/** `reserve(id, input)`: a reservation of `input` tokens in `items` (no output, no clamp), as these tests make it. */
export function reserverIn(store: ResilientStore, items: CounterItem[]) {
  return (id: string, input: number, of: CounterItem[] = items) => store.reserve({ id, items: of, input, output: 0, clamp: false, minOutput: 0 });
}

/**
 * The ledger as these tests stand it in: each call's row, its item and tokens, written as the gateway writes
 * it: the call settled (Engine.settleCall), then its row once the store says (rowAfter, usage-services.ts).
 */
export class RowLedger {
  readonly rows: Array<{ item: CounterItem; tokens: number }> = [];

  constructor(private readonly store: ResilientStore) {}

  /** `settled`: called once the settlement has returned, before the row waits. */
  async finish(id: string, item: CounterItem, tokens: number, settled?: () => void): Promise<void> {
    await this.store.settle(id, { input: tokens, output: 0, request: 1, rowFollows: true });
    settled?.();
    await this.store.rowAfter(id);
    this.rows.push({ item, tokens });
  }

  /** What a rebuild from the ledger does: each of `items` raised to its rows' sum. */
  async restore(items: CounterItem[]): Promise<void> {
    const entries = items.map((item) => ({ item, used: this.rows.filter((r) => r.item === item).reduce((n, r) => n + r.tokens, 0) })).filter((e) => e.used > 0);
    if (entries.length > 0) await this.store.restore(entries);
  }
}
