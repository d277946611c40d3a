// A counter rebuild whose ledger read and store write fall either side of a calendar edge (a rebuild that
// takes a moment at 23:59:59 on the last of the month, or an instance clock a second behind Redis TIME):
// what the ledger counted in the window that ended is not the new window's. Before, the rebuild's figure
// for January's budget went into February's counter, on both stores: a budget 90% spent by 31 January
// refused calls on 1 February until March.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import type { CounterStore } from '../src/limits/counter-store.js';
import { ApplicableLimits } from '../src/limits/applicable-limits.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { RouteTable } from '../src/routing/route-table.js';
import { ManualClock } from '../src/util/clock.js';
import { load } from './helpers/config-texts.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

// Midnight starting 1 Feb 2026 in New York (EST, UTC-5).
const FEB_1 = Date.parse('2026-02-01T05:00:00Z');

const policy = load(`
server: {timezone: America/New_York}
providers:
  demo: {type: mock}
organization: {monthly_budget: 1000, daily_cap: 1000}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
    token_limiting:
      input: {algorithm: fixed_window, window_size: 1 hour, max_token: 1000}
keys:
  - {id: u1, key: tg-u1, user: u1}
`);

// 900 tokens in the last hour of 31 January, local time.
const rows: LedgerRow[] = [
  sampleRow({ ts: FEB_1 - 30 * 60_000, organization: 'default', keyId: 'u1', user: 'u1', project: null, groups: [], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', inputTokens: 800, outputTokens: 100 }),
];

const redis = usePrivateRedis();

type Factory = (storeClock: ManualClock) => Promise<CounterStore>;
const FACTORIES: Array<[string, Factory]> = [
  ['memory', async (clock) => new MemoryCounterStore(clock, 'America/New_York')],
  [
    'redis',
    async (clock) => {
      const client = createRedisClient(redis.url, 1000);
      if (!(await waitReady(client, 5000))) throw new Error(`no Redis at ${redis.url}`);
      // The store's time stands in for Redis TIME; the instance's own clock is the rebuild's.
      return new RedisCounterStore(client, { timezone: 'America/New_York', clock, reservationTtlMs: 60_000, timeOverride: clock });
    },
  ],
];

describe.each(FACTORIES)('a rebuild across the month’s last midnight, %s store', (_name, factory) => {
  const { ledger } = useLedger({ seed: (l) => l.append(rows) });

  it('counts January’s usage in January’s windows only: February starts empty', async () => {
    const storeClock = new ManualClock(FEB_1 + 1000); // the store (Redis TIME) is at 00:00:01 on 1 Feb
    const store = await factory(storeClock);
    try {
      const principal = { keyId: 'u1', organization: 'default', user: 'u1', groups: [] };
      const target = new RouteTable(policy).resolve(principal, 'gpt-4o', 'chat')!;
      const items = new ApplicableLimits(policy).for(principal, target).map((l) => l.item);
      // The rebuild reads the ledger at 23:59:59 on 31 Jan: 900 in this month, day and hour.
      const report = await rebuildCounters(ledger(), policy, store, () => FEB_1 - 1000, true);
      expect(report.limits).toBe(3);
      const states = await store.peek(items);
      expect(states.map((s) => s.used)).toEqual([0, 0, 0]);
      // And a rebuild within the window still raises it.
      const again = await rebuildCounters(ledger(), policy, store, () => FEB_1 - 1000, true);
      expect(again.limits).toBe(3);
      storeClock.set(FEB_1 - 500);
      await rebuildCounters(ledger(), policy, store, () => FEB_1 - 1000, true);
      expect((await store.peek(items)).map((s) => s.used)).toEqual([900, 900, 800]);
    } finally {
      await store.close();
    }
  });
});
