// Shared by the review-placement-* tests: a fail-open ResilientStore over RedisCounterStore on a private
// redis-server behind a delay proxy, with three limits (daily fixed window, sliding hour, token bucket),
// placements of fail-open local calls (LocalCallsMoved) observed and, for a number of rounds, slowed past
// the 200 ms timeout by turning the proxy's delay up just as they are sent (RedisCounterStore.reserve is
// observed, not replaced: every command goes to the real Redis).
import { expect } from 'vitest';
import type { CounterItem, ReserveRequest, SettleUsage } from '../../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../../src/limits/redis/redis-store.js';
import { ResilientStore } from '../../src/limits/resilient-store.js';
import { systemClock } from '../../src/util/clock.js';
import { middayZone } from './midday-zone.js';
import { startDelayProxy } from './redis-delay-proxy.js';
import { until } from './until.js';

const DAY = 86_400_000;
export const ZERO: SettleUsage = { input: 0, output: 0, request: 0 };

export interface Rounds {
  /** Rounds of placements (one move()) still to slow down. */
  left: number;
  /** How long the delay stays up: 100 ms lets the PING (sent at the 200 ms timeout) answer; 250 ms does not. */
  holdMs: number;
}

export async function setup(redisPort: number, redisUrl: string, name: string) {
  const zone = middayZone();
  const proxy = await startDelayProxy(redisPort);
  const client = createRedisClient(proxy.url, 200);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  const direct = createRedisClient(redisUrl, 2000);
  if (!(await waitReady(direct, 5000))) throw new Error('no Redis');
  const primary = new RedisCounterStore(client, { timezone: zone, clock: systemClock, reservationTtlMs: 60_000 });
  const store = new ResilientStore(primary, { defaultMode: 'fail_open', instances: 1, timezone: zone, clock: systemClock, log: { info: () => {}, warn: () => {} }, description: name, probeIntervalMs: 50 });
  const tag = `tg:{${name}${Date.now()}}`;
  const weights = { input: 1, output: 1, request: 0 };
  const daily: CounterItem = { key: `${tag}:daily`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 1_000_000, weights, mode: 'enforce' };
  const hour: CounterItem = { key: `${tag}:hour`, algorithm: 'sliding_window', window: { kind: 'duration', ms: 3_600_000 }, max: 1_000_000, weights, mode: 'enforce' };
  // Drains 1,000,000 per 30 days: about 0.4 a second, so a test of a few seconds sees it drop by a few.
  const bucket: CounterItem = { key: `${tag}:bucket`, algorithm: 'token_bucket', window: { kind: 'duration', ms: 30 * DAY }, max: 1_000_000, weights, mode: 'enforce' };
  const items = [daily, hour, bucket];
  const reserve = (id: string, input: number) => store.reserve({ id, items, input, output: 0, clamp: false, minOutput: 0 });
  expect((await reserve('warm', 0)).ok).toBe(true);
  await store.settle('warm', ZERO);
  await store.quiesce();
  const used = async (): Promise<number[]> => (await primary.peek(items)).map((s) => s.used);

  // Placements observed: each move() is a round; the first placement of a round slows the proxy down.
  const rounds: Rounds = { left: 0, holdMs: 100 };
  const placements: string[] = [];
  /** Called just after a placement is sent (it is in flight). */
  const hooks: { onPlacement?: (id: string) => void } = {};
  let slowing = false;
  const reserveInRedis = primary.reserve.bind(primary);
  primary.reserve = (req: ReserveRequest) => {
    if (req.id.includes('~moved')) {
      placements.push(req.id);
      if (!slowing && rounds.left > 0) {
        rounds.left--;
        slowing = true;
        proxy.setDelay(300);
        setTimeout(() => {
          proxy.setDelay(0);
          slowing = false;
        }, rounds.holdMs);
      }
    }
    const sent = reserveInRedis(req);
    if (req.id.includes('~moved')) hooks.onPlacement?.(req.id);
    return sent;
  };

  /** Reservation records in Redis for this tag: live ones and tombstones ('x'). */
  const records = async (): Promise<{ live: string[]; tombstones: string[] }> => {
    const keys = await direct.keys(`${tag}:res:*`);
    const live: string[] = [];
    const tombstones: string[] = [];
    for (const k of keys) ((await direct.get(k)) === 'x' ? tombstones : live).push(k.slice(`${tag}:res:`.length));
    return { live: live.sort(), tombstones: tombstones.sort() };
  };
  const moved = (store as any).moved as { moving: Map<string, unknown>; movedAs: Map<string, string>; attempts: Map<string, number> };
  const pending = (store as any).settlements.pending as Map<string, unknown>;
  /** Everything settled: nothing open anywhere, nothing waiting, LocalCallsMoved's maps empty. */
  const allSettled = async (): Promise<void> => {
    await until(async () => {
      await store.quiesce();
      return store.mode === 'ok' && store.backlog === 0 && (await store.openReservations()) === 0;
    }, 15_000);
    expect(moved.moving.size).toBe(0);
    expect(moved.movedAs.size).toBe(0);
    expect(moved.attempts.size).toBe(0);
    expect((await records()).live).toEqual([]);
  };
  const close = async (): Promise<void> => {
    rounds.left = 0;
    proxy.setDelay(0);
    await store.close();
    await proxy.close();
    direct.disconnect();
  };
  return { proxy, primary, store, tag, items, reserve, used, rounds, placements, hooks, records, moved, pending, allSettled, close };
}

export type Setup = Awaited<ReturnType<typeof setup>>;

/** Admits `ids` (100 input each) against local counters: a timeout whose PING times out too, an outage. */
export async function admittedLocally(s: Setup, ids: string[], input = 100): Promise<void> {
  s.proxy.setDelay(300);
  const outcomes = await Promise.all(ids.map((id) => s.reserve(id, input)));
  for (const o of outcomes) expect(o.ok).toBe(true);
  await until(() => s.store.mode === 'fail_open', 5000);
}

/** The daily and sliding counters exactly, the bucket within what it drains in a few seconds. */
export function expectCounters(got: number[], want: number): void {
  expect(got[0]).toBe(want);
  expect(got[1]).toBe(want);
  expect(got[2]).toBeLessThanOrEqual(want);
  expect(got[2]).toBeGreaterThan(want - 20);
}

