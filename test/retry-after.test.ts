// Retry-After and x-should-retry from the limits engine, on the memory store and on Redis (127.0.0.1:6379,
// each run under its own organization): a 429 says when this request fits, and a per-minute limit is
// always worth an SDK retry.
import { afterAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import type { Principal } from '../src/auth/principal.js';
import type { CounterStore } from '../src/limits/counter-store.js';
import { LimitsEngine } from '../src/limits/engine.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { RouteTable } from '../src/routing/route-table.js';
import { ManualClock } from '../src/util/clock.js';
import { admitAndSettle } from './helpers/admit-and-settle.js';
import { writeConfig } from './helpers/processes.js';

const NOON = Date.UTC(2026, 10, 21, 12); // on a slot edge of every window used here
const open: CounterStore[] = [];
afterAll(async () => {
  await Promise.all(open.map((s) => s.close()));
});

type Factory = (clock: ManualClock) => Promise<CounterStore>;
const factories: Array<[string, Factory]> = [
  ['memory', async (clock) => new MemoryCounterStore(clock, 'UTC')],
  [
    'redis',
    async (clock) => {
      const client = createRedisClient('redis://127.0.0.1:6379', 1000);
      if (!(await waitReady(client, 5000))) throw new Error('no Redis on 127.0.0.1:6379');
      return new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, timeOverride: clock });
    },
  ],
];

async function setup(factory: Factory, limitsYaml: string) {
  const org = `ra${Math.random().toString(36).slice(2, 10)}`;
  const policy = loadPolicy([
    writeConfig(`
providers: {demo: {type: mock}}
organizations: {${org}: {}}
users: {tier_t: {rate_limit: 2}}
routes:
  r:
    chat_models: [{model_id: m, model: demo/gpt-4o}]
    token_limiting:
${limitsYaml}
keys: [{id: a, key: tg-a, user: u, tier: tier_t, organization: ${org}}]
enforcement: {clamp_max_tokens: false}
`),
  ]);
  const clock = new ManualClock(NOON);
  const store = await factory(clock);
  open.push(store);
  const engine = new LimitsEngine(policy, store, clock);
  const principal: Principal = { keyId: 'a', organization: org, user: 'u', tier: 'tier_t', groups: [] };
  const target = new RouteTable(policy).resolve(principal, 'm', 'chat')!;
  const ask = admitAndSettle(engine, principal, target, org);
  return { clock, ask };
}

describe.each(factories)('Retry-After on the %s store', (_name, factory) => {
  it('a burst over a per-minute rate limit: Retry-After 63, and no x-should-retry: false', async () => {
    const { clock, ask } = await setup(factory, '      output: {algorithm: fixed_window, window_size: 1 day, max_token: 1000000}');
    expect(await ask(5, 5)).toBeUndefined();
    expect(await ask(5, 5)).toBeUndefined();
    const err = await ask(5, 5);
    expect(err?.status).toBe(429);
    expect(err?.headers['x-tollgate-limit']).toMatch(/:rate$/);
    expect(err?.headers['retry-after']).toBe('63');
    expect(err?.headers['x-should-retry']).toBeUndefined();
    clock.advance(62_999);
    expect((await ask(5, 5))?.status).toBe(429);
    clock.advance(1);
    expect(await ask(5, 5)).toBeUndefined();
  });

  it('a nearly full hourly bucket: room for this request, not the time to empty', async () => {
    const { clock, ask } = await setup(factory, '      output: {algorithm: token_bucket, window_size: 1 hour, max_token: 3600}');
    expect(await ask(5, 3600)).toBeUndefined();
    clock.advance(40_000); // the rate limit's slot has gone by now; 40 tokens drained
    const err = await ask(5, 65);
    expect(err?.status).toBe(429);
    expect(err?.headers['retry-after']).toBe('25');
    expect(err?.headers['x-should-retry']).toBeUndefined();
    expect(err?.message).toContain('3560 of 3600 tokens used, 40 left, and this request needs 65. It resets in 25s');
    const long = await ask(5, 200);
    expect(long?.headers['retry-after']).toBe('160');
    expect(long?.headers['x-should-retry']).toBe('false');
  });

  it('says the wait to the millisecond as well (retry-after-ms, which the SDKs read before retry-after)', async () => {
    const { clock, ask } = await setup(factory, '      output: {algorithm: token_bucket, window_size: 1 minute, max_token: 1000}');
    expect(await ask(5, 1000)).toBeUndefined();
    const err = await ask(5, 10); // 10 tokens drain in 600 ms
    expect(err?.headers['retry-after']).toBe('1');
    expect(err?.headers['retry-after-ms']).toBe('600');
    clock.advance(599);
    expect((await ask(5, 10))?.headers['retry-after-ms']).toBe('1');
    clock.advance(1);
    expect(await ask(5, 10)).toBeUndefined();
  });

  it('a sliding window where the oldest slot leaving is not enough: when enough slots have left', async () => {
    const { clock, ask } = await setup(factory, '      output: {algorithm: sliding_window, window_size: 1 hour, max_token: 1000}');
    // Slots of 3 minutes, each counted for 21 slots (63 minutes); NOON is on a slot edge. Gaps of minutes
    // keep the per-minute rate limit out of the way.
    expect(await ask(5, 100)).toBeUndefined(); // leaves at 63 min
    clock.advance(10 * 60_000);
    expect(await ask(5, 400)).toBeUndefined(); // slot of 9 min: leaves at 72 min
    clock.advance(10 * 60_000);
    expect(await ask(5, 400)).toBeUndefined(); // slot of 18 min: leaves at 81 min
    clock.advance(5 * 60_000);
    // At 25 min, 900 used and 300 needed: the first 100 leaving (63 min) leaves 800, not enough; the next
    // 400 leaving (72 min, 47 min from now) is. The oldest slot alone would say 38 min.
    const err = await ask(5, 300);
    expect(err?.status).toBe(429);
    expect(err?.headers['retry-after']).toBe(String(47 * 60));
    expect(err?.headers['x-should-retry']).toBe('false');
    expect(err?.message).toContain('900 of 1000 tokens used, 100 left, and this request needs 300. It resets in 47m 0s (at 2026-11-21T13:12:00.000Z)');
    clock.advance(38 * 60_000); // the oldest slot has left: 800 used, still refused, now 9 min to go
    const again = await ask(5, 300);
    expect(again?.status).toBe(429);
    expect(again?.headers['retry-after']).toBe(String(9 * 60));
    clock.advance(9 * 60_000 - 1);
    expect((await ask(5, 300))?.status).toBe(429);
    clock.advance(1);
    expect(await ask(5, 300)).toBeUndefined();
  });
});
