// A reload that changes a limit's algorithm or window rebuilds its counter from the ledger twice: before the
// new config applies, and once the old config's calls have ended (their rows are in the ledger only then).
// The second rebuild runs while the new config's calls are in flight: their reservations are in the counter
// but not in the ledger, so a counter compared with the ledger as it stands hid the old calls' usage behind
// them, and once the new calls settled below their reservations the limit had room it had already spent
// (e2e on Redis: 1,400 output tokens admitted within a 1,000 limit, `tollgate audit` -400). The rebuild now
// adds what this instance's calls in flight hold; Redis's figure of it leaves out a reservation made in a
// fixed window of another length (the old one), which the new window's counter does not hold. With several
// gateways, each also carries its old calls into the new count as they end (the last describe).
import { afterAll, describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { configuredLimits } from '../src/ledger/configured-limits.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import { ReloadCarry } from '../src/ledger/reload-carry.js';
import type { CounterStore } from '../src/limits/counter-store.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { load } from './helpers/config-texts.js';
import { sampleRow } from './helpers/sample-row.js';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';
import { useLedger } from './helpers/use-ledger.js';

const redisServers: RedisServer[] = [];
const stores: CounterStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const r of redisServers) await r.stop();
});

/** A Redis store on a private, empty server; Redis TIME stands in for the manual clock. */
async function redisStore(clock: ManualClock): Promise<CounterStore> {
  const redis = await startRedisServer();
  redisServers.push(redis);
  return storeOn(redis, clock);
}

/** One gateway's Redis store on `redis`. */
async function storeOn(redis: RedisServer, clock: ManualClock): Promise<CounterStore> {
  const client = createRedisClient(redis.url, 2000);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  const store = new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, timeOverride: clock });
  stores.push(store);
  return store;
}
const STORES = [
  { name: 'memory', make: async (clock: ManualClock): Promise<CounterStore> => new MemoryCounterStore(clock, 'UTC') },
  { name: 'Redis', make: redisStore },
];

// 10:05 UTC: a minute's 3 s slots line up with it; an hour's window started 5 minutes before the minute's.
const NOW = Date.UTC(2026, 10, 18, 10, 5, 0);

const config = (limit: string) =>
  load(`
providers:
  demo: {type: mock}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
    token_limiting:
      output: {${limit}, max_token: 1000}
keys:
  - {id: k1, key: tg-k1}
`);

const itemOf = (policy: ReturnType<typeof load>) => {
  const items = configuredLimits(policy).map((c) => c.limit.item);
  expect(items).toHaveLength(1);
  return items[0];
};

const row = (startedAt: number, output: number): LedgerRow =>
  sampleRow({ ts: startedAt, organization: 'default', keyId: 'k1', user: 'k1', project: null, groups: [], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', inputTokens: 0, outputTokens: output, limits: ['route:main:output'], shadowBlocked: [], decision: 'admitted', costUsd: 0, inputCostUsd: 0 });

const CHANGES = [
  ['fixed_window -> sliding_window', 'algorithm: fixed_window, window_size: 1 minute', 'algorithm: sliding_window, window_size: 1 minute'],
  ['a fixed window made longer', 'algorithm: fixed_window, window_size: 1 minute', 'algorithm: fixed_window, window_size: 1 hour'],
  ['a sliding window made longer', 'algorithm: sliding_window, window_size: 1 minute', 'algorithm: sliding_window, window_size: 1 hour'],
];

describe.each(STORES.flatMap((store) => CHANGES.map(([name, before, after]) => ({ store, name, before, after }))))('a reload ($name, counters in $store.name) with calls in flight on both configs', ({ store: kind, before, after }) => {
  const { ledger } = useLedger({ each: true });

  it('keeps the old calls\' usage in the new counter once the new calls settle', async () => {
    const clock = new ManualClock(NOW);
    const store = await kind.make(clock);
    const oldItem = itemOf(config(before));
    const next = config(after);
    const newItem = itemOf(next);
    // Four calls admitted by the old config, 100 output tokens reserved each, still generating.
    for (const id of ['o1', 'o2', 'o3', 'o4']) {
      expect((await store.reserve({ id, items: [oldItem], input: 0, output: 100, clamp: false, minOutput: 0 })).ok).toBe(true);
    }
    // 4 s on, the reload: its first rebuild finds nothing in the ledger yet, and the new config applies.
    clock.advance(4_000);
    await rebuildCounters(ledger(), next, store, () => clock.now(), false);
    // A call under the new config reserves 600 (its max_tokens) and is still generating when the old ones end.
    expect((await store.reserve({ id: 'n1', items: [newItem], input: 0, output: 600, clamp: false, minOutput: 0 })).ok).toBe(true);
    clock.advance(2_000);
    for (const id of ['o1', 'o2', 'o3', 'o4']) await store.settle(id, { input: 0, output: 100, request: 1 });
    await ledger().append(['o1', 'o2', 'o3', 'o4'].map(() => row(NOW, 100)));
    // The old config's calls have ended: the rebuild after the reload.
    await rebuildCounters(ledger(), next, store, () => clock.now(), false);
    clock.advance(1_000);
    await store.settle('n1', { input: 0, output: 1, request: 1 });
    await ledger().append([row(NOW + 4_000, 1)]);

    // 401 of the 1,000 are spent: 599 left, not 999 (nor less: the old window's reservations are not added twice).
    expect((await store.peek([newItem]))[0].used).toBe(401);
    const big = await store.reserve({ id: 'n2', items: [newItem], input: 0, output: 700, clamp: false, minOutput: 0 });
    expect(big.ok).toBe(false);
  });
});

// Two gateways on one Redis. The rebuild on gateway A once its old calls have ended compares the new counter
// with the ledger while gateway B's calls under the new config are in flight: B's reservations hid A's old
// calls' usage (a gateway knows only its own calls in flight), and once B's calls settled below what they
// reserved the limit had that usage's room again (e2e: 1,400 output tokens admitted within a 1,000 limit,
// `tollgate audit` -400). A now carries each old call into the new count as its row is written
// (reload-carry.ts, as usage-services.ts does for a retired gateway's calls).
describe('a reload (fixed_window -> sliding_window) on two gateways sharing Redis', () => {
  const { ledger } = useLedger();

  it("keeps gateway A's old calls in the new counter though gateway B's calls were in flight at A's rebuild", async () => {
    const redis = await startRedisServer();
    redisServers.push(redis);
    const clock = new ManualClock(NOW);
    const [a, b] = [await storeOn(redis, clock), await storeOn(redis, clock)];
    const before = config('algorithm: fixed_window, window_size: 1 hour');
    const oldItem = itemOf(before);
    const next = config('algorithm: sliding_window, window_size: 1 hour');
    const newItem = itemOf(next);
    const ids = ['o1', 'o2', 'o3', 'o4'];
    for (const id of ids) expect((await a.reserve({ id, items: [oldItem], input: 0, output: 100, clamp: false, minOutput: 0 })).ok).toBe(true);
    clock.advance(4_000);
    await rebuildCounters(ledger(), next, a, () => clock.now(), false);
    await rebuildCounters(ledger(), next, b, () => clock.now(), false);
    expect((await b.reserve({ id: 'n1', items: [newItem], input: 0, output: 600, clamp: false, minOutput: 0 })).ok).toBe(true);
    clock.advance(2_000);
    const carry = new ReloadCarry(a);
    for (const id of ids) {
      await a.settle(id, { input: 0, output: 100, request: 1 });
      const oldRow = { ...row(NOW, 100), requestId: id };
      await ledger().append([oldRow]);
      await carry.carry(oldRow, before, next);
    }
    await carry.idle();
    await rebuildCounters(ledger(), next, a, () => clock.now(), false);
    clock.advance(1_000);
    await b.settle('n1', { input: 0, output: 1, request: 1 });
    await ledger().append([row(NOW + 4_000, 1)]);
    // 401 of the 1,000 are spent (the counter read 1 before the carry).
    expect((await a.peek([newItem]))[0].used).toBe(401);
    expect(await a.openReservations()).toBe(0);
  });
});
