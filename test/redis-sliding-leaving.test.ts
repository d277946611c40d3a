// A refused sliding window's `leaving` (its counted slots and when each leaves) is the same on Redis and
// Redis Cluster as on the memory store, amount for amount and millisecond for millisecond: Retry-After
// is computed from it. Fractional amounts (weights, money) must round-trip the script reply exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CounterItem, CounterStore, ReserveOutcome } from '../src/limits/counter-store.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { startRedisCluster, type RedisCluster } from './helpers/redis-servers.js';

let cluster: RedisCluster;
const open: CounterStore[] = [];
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 30_000);
afterAll(async () => {
  await Promise.all(open.map((s) => s.close()));
  await cluster?.stop();
});

const T0 = Date.UTC(2026, 10, 21, 10); // on a slot edge of every window used here
const MINUTE = 60_000;

async function redisStore(url: string, clock: ManualClock): Promise<CounterStore> {
  const client = createRedisClient(url, 1000);
  if (!(await waitReady(client, 5000))) throw new Error(`no Redis at ${url}`);
  return new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, timeOverride: clock });
}

const stores: Array<[string, (clock: ManualClock) => Promise<CounterStore>]> = [
  ['memory', async (clock) => new MemoryCounterStore(clock, 'UTC')],
  ['redis', (clock) => redisStore('redis://127.0.0.1:6379', clock)],
  ['redis cluster', (clock) => redisStore(cluster.url, clock)],
];

/** The same sequence on each store: the outcomes of its refusals, to compare across stores. */
async function scenario(make: (clock: ManualClock) => Promise<CounterStore>): Promise<ReserveOutcome[]> {
  const org = `sl${Math.random().toString(36).slice(2, 10)}`;
  const clock = new ManualClock(T0);
  const store = await make(clock);
  open.push(store);
  const base = { algorithm: 'sliding_window', mode: 'enforce', weights: { input: 1, output: 1, request: 0 } } as const;
  const hourly: CounterItem = { ...base, key: `tg:{${org}}:hourly`, window: { kind: 'duration', ms: 60 * MINUTE }, max: 100 };
  // Fractional weights: amounts that are not whole numbers.
  const money: CounterItem = { ...base, key: `tg:{${org}}:money`, window: { kind: 'duration', ms: 10 * MINUTE }, max: 20, weights: { input: 0.1, output: 0.3, request: 0 } };
  const fixed: CounterItem = { ...base, algorithm: 'fixed_window', key: `tg:{${org}}:fixed`, window: { kind: 'duration', ms: 60 * MINUTE }, max: 150 };
  const bucket: CounterItem = { ...base, algorithm: 'token_bucket', key: `tg:{${org}}:bucket`, window: { kind: 'duration', ms: 60 * MINUTE }, max: 1000 };
  const items = [fixed, hourly, bucket, money];
  let n = 0;
  const reserve = (input: number, output: number, list = items): Promise<ReserveOutcome> =>
    store.reserve({ id: `r${n++}`, items: list, input, output, clamp: false, minOutput: 1 });
  const refusals: ReserveOutcome[] = [];
  expect((await reserve(7, 3)).ok).toBe(true); // 10 in slot 0 of both windows
  clock.advance(4 * MINUTE + 17);
  expect((await reserve(11, 13)).ok).toBe(true);
  clock.advance(2 * MINUTE);
  expect((await reserve(1, 2)).ok).toBe(true);
  const settled = await reserve(5, 20);
  expect(settled.ok).toBe(true);
  await store.settle(`r${n - 1}`, { input: 5, output: 9, request: 1 }); // a settled slot: its real usage counts
  clock.advance(MINUTE);
  // The fixed window refuses along with both sliding windows: one field per blocked item, any algorithm.
  refusals.push(await reserve(60, 60));
  // Only the hourly window refuses; the fixed one and the bucket have room, money is not asked.
  refusals.push(await reserve(30, 28, [fixed, hourly, bucket]));
  clock.advance(4 * MINUTE); // money's first slot (30 s slots, counted for 21) has left its 10-minute window
  refusals.push(await reserve(60, 30));
  // A sliding window that is empty (new key) but too small for the request: blocked, nothing counted.
  const tiny: CounterItem = { ...hourly, key: `tg:{${org}}:tiny`, max: 5 };
  refusals.push(await reserve(6, 0, [tiny, hourly]));
  expect(refusals.every((r) => !r.ok)).toBe(true);
  return refusals;
}

describe('sliding-window refusals list the same counted slots on every store', () => {
  it('memory, Redis and Redis Cluster agree exactly', async () => {
    const [memory, ...shared] = await Promise.all(stores.map(([, make]) => scenario(make)));
    // The memory store's answer is the reference; check it is the interesting one first.
    const first = memory[0];
    expect(first.ok).toBe(false);
    if (first.ok) return;
    expect(first.blocked).toEqual([0, 1, 3]);
    expect(first.states[1].leaving).toEqual([
      { atMs: T0 + 63 * MINUTE, amount: 10 },
      { atMs: T0 + 66 * MINUTE, amount: 24 },
      { atMs: T0 + 69 * MINUTE, amount: 17 }, // 3, and 25 reserved then settled as 14
    ]);
    expect(first.states[3].leaving?.map((s) => s.atMs)).toEqual([T0 + 10.5 * MINUTE, T0 + 14.5 * MINUTE, T0 + 16.5 * MINUTE]);
    const third = memory[2];
    expect(!third.ok && third.blocked).toEqual([1, 3]);
    expect(third.states[3].leaving?.map((s) => s.atMs)).toEqual([T0 + 14.5 * MINUTE, T0 + 16.5 * MINUTE]);
    expect(first.states[0].leaving).toBeUndefined();
    expect(first.states[2].leaving).toBeUndefined();
    expect(memory[3].ok || memory[3].states[0].leaving).toEqual([]);
    for (const [i, outcomes] of shared.entries()) {
      expect({ store: stores[i + 1][0], outcomes }).toEqual({ store: stores[i + 1][0], outcomes: memory });
    }
  });
});
