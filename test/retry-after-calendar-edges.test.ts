// What a 429 says about a spent calendar limit on days DST makes short or long, and far from UTC: the
// Retry-After, retry-after-ms, x-ratelimit-reset-tokens, the message's "resets in ... (at ...)", on the
// memory store and on a private Redis. A wait taken as "24 h less the local time" would be an hour off.
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import type { Principal } from '../src/auth/principal.js';
import { LimitsEngine } from '../src/limits/engine.js';
import { RouteTable } from '../src/routing/route-table.js';
import { ManualClock } from '../src/util/clock.js';
import { useMemoryAndRedisStores, type StoreFactory } from './helpers/memory-and-redis-stores.js';
import { admitAndSettle } from './helpers/admit-and-settle.js';
import { writeConfig } from './helpers/processes.js';

const FACTORIES = useMemoryAndRedisStores();

async function setup(factory: StoreFactory, timezone: string, orgLimits: string, startMs: number) {
  const org = `rc${Math.random().toString(36).slice(2, 10)}`;
  const policy = loadPolicy([
    writeConfig(`
server: {timezone: ${timezone}}
providers: {demo: {type: mock}}
organizations: {${org}: {${orgLimits}}}
routes:
  r:
    chat_models: [{model_id: m, model: demo/gpt-4o}]
keys: [{id: a, key: tg-a, user: u, organization: ${org}}]
enforcement: {clamp_max_tokens: false}
`),
  ]);
  const clock = new ManualClock(startMs);
  const store = await factory(clock, timezone);
  const engine = new LimitsEngine(policy, store, clock);
  const principal: Principal = { keyId: 'a', organization: org, user: 'u', groups: [] };
  const target = new RouteTable(policy).resolve(principal, 'm', 'chat')!;
  const ask = admitAndSettle(engine, principal, target, org);
  return { clock, ask };
}

const HOUR = 3_600_000;

describe.each(FACTORIES)('a spent calendar limit’s 429 at DST and far from UTC, %s store', (_name, factory) => {
  it('New York, 01:00 EST on the day clocks spring forward: 22 hours to local midnight, not 23', async () => {
    const now = Date.parse('2026-03-08T06:00:00Z');
    const { clock, ask } = await setup(factory, 'America/New_York', 'daily_cap: 1000', now);
    expect(await ask(500, 500)).toBeUndefined();
    const err = await ask(5, 5);
    expect(err?.status).toBe(429);
    expect(err?.headers).toMatchObject({ 'retry-after': String(22 * 3600), 'retry-after-ms': String(22 * HOUR), 'x-ratelimit-reset-tokens': '22h0m0s', 'x-should-retry': 'false' });
    expect(err?.message).toContain('It resets in 22h 0m (at 2026-03-09T04:00:00.000Z)');
    clock.set(Date.parse('2026-03-09T04:00:00Z') - 1);
    expect((await ask(5, 5))?.headers['retry-after-ms']).toBe('1');
    clock.advance(1);
    expect(await ask(5, 5)).toBeUndefined();
  });

  it('New York, 00:30 EDT on the day clocks fall back: 24.5 hours to local midnight', async () => {
    const now = Date.parse('2026-11-01T04:30:00Z');
    const { ask } = await setup(factory, 'America/New_York', 'daily_cap: 1000', now);
    expect(await ask(500, 500)).toBeUndefined();
    const err = await ask(5, 5);
    expect(err?.headers).toMatchObject({ 'retry-after': String(24.5 * 3600), 'x-ratelimit-reset-tokens': '24h30m0s' });
    expect(err?.message).toContain('It resets in 24h 30m (at 2026-11-02T05:00:00.000Z)');
  });

  it('Lord Howe, 01:00 on the day clocks go back 30 minutes: 23.5 hours to local midnight', async () => {
    // 2026-04-05 00:00 is 13:00 UTC the day before (+11); the next midnight is at +10:30.
    const now = Date.parse('2026-04-04T14:00:00Z');
    const { ask } = await setup(factory, 'Australia/Lord_Howe', 'daily_cap: 1000', now);
    expect(await ask(500, 500)).toBeUndefined();
    const err = await ask(5, 5);
    expect(err?.headers).toMatchObject({ 'retry-after': String(23.5 * 3600), 'x-ratelimit-reset-tokens': '23h30m0s' });
    expect(err?.message).toContain('(at 2026-04-05T13:30:00.000Z)');
  });

  it('Kiritimati (+14), a monthly budget spent on New Year’s Eve: resets at local midnight, 10:00 UTC', async () => {
    const now = Date.parse('2026-12-31T09:59:00Z'); // 23:59 local on 31 Dec
    const { clock, ask } = await setup(factory, 'Pacific/Kiritimati', 'monthly_budget: 1000', now);
    expect(await ask(500, 500)).toBeUndefined();
    const err = await ask(5, 5);
    expect(err?.headers).toMatchObject({ 'retry-after': '60', 'retry-after-ms': '60000', 'x-ratelimit-reset-tokens': '1m0s' });
    expect(err?.headers['x-should-retry']).toBeUndefined();
    expect(err?.message).toContain('It resets in 1m 0s (at 2026-12-31T10:00:00.000Z)');
    clock.advance(60_000);
    expect(await ask(500, 500)).toBeUndefined();
  });

  it('Niue (-11), a daily cap spent on leap day 2028: resets on 1 March local, 11:00 UTC', async () => {
    const now = Date.parse('2028-03-01T10:00:00Z'); // 23:00 local on 29 Feb
    const { ask } = await setup(factory, 'Pacific/Niue', 'daily_cap: 1000, monthly_budget: 100000', now);
    expect(await ask(500, 500)).toBeUndefined();
    const err = await ask(5, 5);
    expect(err?.headers).toMatchObject({ 'retry-after': '3600', 'x-ratelimit-reset-tokens': '1h0m0s' });
    expect(err?.message).toContain('(at 2028-03-01T11:00:00.000Z)');
  });
});
