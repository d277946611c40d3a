// Headroom on /metrics while Redis is down: limits that fail open are still admitted against this instance's
// local counters, so `tollgate_limit_remaining_tokens` / `tollgate_limit_utilization` keep showing them (the room
// the gateway is really handing out) instead of vanishing when an operator needs them most. Limits that fail
// closed admit nothing and are left out. A real gateway process, a real redis-server that is killed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { until } from './helpers/until.js';

const config = (redisUrl: string, ledger: string): string => `
storage:
  counters: ${redisUrl}
  ledger: "${ledger}"
  on_store_error: fail_open
  timeout_ms: 200
enforcement: {clamp_max_tokens: false}
providers:
  demo: {type: mock, output_tokens: 10}
organization: {daily_cap: 100000}
projects:
  strict: {daily_limit: {max_token: 50000, on_store_error: fail_closed}}
users:
  tier_a: {daily_limit: 1000}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
keys:
  - {id: alice, key: tg-alice, user: alice, tier: tier_a}
  - {id: bob, key: tg-bob, user: bob, tier: tier_a, project: strict}
`;

async function chat(url: string, key: string): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
  });
  await res.text();
  return res.status;
}

async function headroom(url: string): Promise<{ remaining: Map<string, number>; mode: Map<string, number> }> {
  const families = new Map<string, PromFamily>(parsePrometheusTextFormat(await (await fetch(`${url}/metrics`)).text()).map((f) => [f.name, f]));
  const byLabel = (name: string, label: string): Map<string, number> => new Map((families.get(name)?.metrics ?? []).map((m) => [m.labels![label], Number(m.value)]));
  return { remaining: byLabel('tollgate_limit_remaining_tokens', 'limit'), mode: byLabel('tollgate_counter_store_mode', 'mode') };
}

describe('headroom metrics during a Redis outage (fail_open)', () => {
  let redis: RedisServer;
  let place: LedgerPlace;
  let gw: RunningProcess;

  beforeAll(async () => {
    redis = await startRedisServer();
    place = sqlitePlace();
    gw = await startCli(['serve', '--config', writeConfig(config(redis.url, place.url)), '--port', '0']);
  });
  afterAll(async () => {
    await gw?.stop();
    await redis?.stop();
    await place?.drop();
  });

  it('keeps showing the fail-open limits, from the local counters that admit calls', async () => {
    expect(await chat(gw.url, 'tg-alice')).toBe(200);
    expect(await chat(gw.url, 'tg-bob')).toBe(200);
    const before = await headroom(gw.url);
    const userBefore = before.remaining.get('user:*:daily')!;
    const orgBefore = before.remaining.get('org:default:daily')!;
    expect(before.remaining.has('project:strict:daily')).toBe(true);
    expect(userBefore).toBeLessThan(1000);

    await redis.kill();
    // The outage is noticed by the next call; alice's limits all fail open, bob's project fails closed.
    await until(async () => (await chat(gw.url, 'tg-alice')) === 200 && (await headroom(gw.url)).mode.get('fail_open') === 1);
    expect(await chat(gw.url, 'tg-bob')).toBe(503);
    const during = await headroom(gw.url);
    expect(during.mode.get('fail_open')).toBe(1);
    // Still there, and counting what was admitted locally.
    expect(during.remaining.get('org:default:daily')).toBeLessThan(orgBefore);
    expect(during.remaining.get('user:*:daily')).toBeLessThanOrEqual(userBefore);
    // Nothing is admitted against a fail-closed limit: it is not shown rather than shown stale.
    expect(during.remaining.has('project:strict:daily')).toBe(false);

    await redis.restart();
    await until(async () => (await headroom(gw.url)).remaining.has('project:strict:daily'), 10_000);
  });
});
