// Calls the limits refuse are calls too: a 429, the 400s for a call that can never fit, and the
// fail-closed 503 each write one ledger row (decision `blocked`, the limits checked, the limit that
// refused it), count in `/metrics`, and make the refusing limit's headroom visible, 0 included, even on
// a gateway that started with that limit already spent, and after a reload.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { chat, startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

// Mock output is long, so a call without max_tokens (its default allowance is always clamped) fills
// exactly the room its limits leave. A max_tokens the client chose is never clamped.
const config = (ledger: string): string => `
server: {timezone: UTC}
storage: {ledger: "${ledger}"}
ledger: {flush_interval_ms: 20}
enforcement: {clamp_max_tokens: false}
providers:
  demo: {type: mock, output_tokens: 5000}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organization: {daily_cap: 1000000}
projects:
  web: {daily_limit: 100000, request_limit: 300}
users:
  tier_a: {daily_limit: 100}
groups:
  tiny: {daily_limit: 3}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
keys:
  - {id: alice, key: tg-alice, user: alice, tier: tier_a, project: web}
  - {id: bob, key: tg-bob, user: bob, project: web}
  - {id: carol, key: tg-carol, user: carol, groups: [tiny]}
`;

const idOf = (res: { headers: Headers }): string => res.headers.get('x-tollgate-request-id')!;

async function scrape(url: string): Promise<Map<string, PromFamily>> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return new Map(parsePrometheusTextFormat(await res.text()).map((f) => [f.name, f]));
}

function values(f: PromFamily | undefined, match: Record<string, string>): number[] {
  return (f?.metrics ?? []).filter((m) => Object.entries(match).every(([k, v]) => m.labels?.[k] === v)).map((m) => Number(m.value));
}

function sum(f: PromFamily | undefined, match: Record<string, string> = {}): number {
  return values(f, match).reduce((s, v) => s + v, 0);
}

describe('refused calls in the ledger and the metrics (SQLite)', () => {
  let place: LedgerPlace;
  let gw: UsageTestGateway;

  beforeAll(async () => {
    place = sqlitePlace();
    gw = await startUsageGateway(config(place.url));
  });
  afterAll(async () => {
    await gw?.close().catch(() => {});
    await place?.drop();
  });

  const rowOf = async (res: { headers: Headers }): Promise<LedgerRow> => {
    await gw.usage.writer.flush();
    const rows = await gw.usage.ledger.rows({ requestIds: [idOf(res)] });
    expect(rows).toHaveLength(1);
    return rows[0];
  };
  const alicesLimits = ['org:default:daily', 'project:web:daily', 'user:alice:daily'];

  it('a 429 row lists the limits checked and the one that blocked, with no usage', async () => {
    const fill = await chat(gw.url, 'tg-alice', { model: 'gpt-4o' });
    expect(fill.status).toBe(200);
    const blocked = await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 5 });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('x-tollgate-limit')).toBe('user:alice:daily');
    expect(await rowOf(blocked)).toMatchObject({
      status: 429,
      decision: 'blocked',
      blockedBy: 'user:alice:daily',
      limits: alicesLimits,
      shadowBlocked: [],
      inputTokens: 0,
      outputTokens: 0,
      cachedInputTokens: 0,
      cacheWriteInputTokens: 0,
      cacheWrite1hInputTokens: 0,
      reservedInput: 0,
      reservedOutput: 0,
      costUsd: 0,
      usageSource: 'none',
      upstreamLatencyMs: null,
      user: 'alice',
      project: 'web',
      modelId: 'gpt-4o',
    });
  });

  it('a 400 over the project request_limit is a row blocked by that cap, listed with the limits checked', async () => {
    const res = await chat(gw.url, 'tg-bob', { model: 'gpt-4o', max_tokens: 1000 });
    expect(res.status).toBe(400);
    expect(((res.body as { error: { code: string } }).error).code).toBe('request_over_limit');
    expect(await rowOf(res)).toMatchObject({
      status: 400,
      decision: 'blocked',
      blockedBy: 'project:web:request',
      limits: ['org:default:daily', 'project:web:daily', 'project:web:request'],
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      usageSource: 'none',
    });
  });

  it('a 400 for an input larger than a whole window is a row blocked by that limit', async () => {
    const res = await chat(gw.url, 'tg-carol', { model: 'gpt-4o', max_tokens: 1 });
    expect(res.status).toBe(400);
    expect(((res.body as { error: { code: string } }).error).code).toBe('request_over_window');
    expect(await rowOf(res)).toMatchObject({ status: 400, decision: 'blocked', blockedBy: 'group:tiny:daily', limits: ['org:default:daily', 'group:tiny:daily'], usageSource: 'none' });
  });

  it('a fail-closed 503 (counter store down) is a row with the limits checked and no blocking limit', async () => {
    const reserve = gw.store.reserve;
    gw.store.reserve = async () => {
      throw new Error('connection refused');
    };
    try {
      const res = await chat(gw.url, 'tg-bob', { model: 'gpt-4o', max_tokens: 5 });
      expect(res.status).toBe(503);
      expect(await rowOf(res)).toMatchObject({ status: 503, decision: 'blocked', blockedBy: null, limits: ['org:default:daily', 'project:web:daily'], inputTokens: 0, usageSource: 'none' });
    } finally {
      gw.store.reserve = reserve;
    }
  });

  it('counts every refusal in tollgate_requests_total by status and in tollgate_limit_hits_total by limit', async () => {
    const m = await scrape(gw.url);
    const requests = m.get('tollgate_requests_total');
    const base = { organization: 'default', model: 'demo/gpt-4o', decision: 'blocked' };
    expect(sum(requests, { ...base, project: 'web', status: '429' })).toBe(1);
    expect(sum(requests, { ...base, project: 'web', status: '400' })).toBe(1);
    expect(sum(requests, { ...base, project: '', status: '400' })).toBe(1);
    expect(sum(requests, { ...base, project: 'web', status: '503' })).toBe(1);
    const hits = m.get('tollgate_limit_hits_total');
    expect(sum(hits, { limit: 'user:*:daily', mode: 'enforce' })).toBe(1);
    expect(sum(hits, { limit: 'project:web:request', mode: 'enforce' })).toBe(1);
    expect(sum(hits, { limit: 'group:tiny:daily', mode: 'enforce' })).toBe(1);
    expect(sum(hits)).toBe(3); // the store outage is no limit's hit
    // Request counters still equal the ledger, refusals included.
    for (const g of await gw.usage.ledger.summarize({ groupBy: ['status', 'decision'] })) {
      expect(sum(requests, { status: g.keys.status!, decision: g.keys.decision! })).toBe(g.calls);
    }
  });

  it('a gateway restarted with a day already spent shows that limit at remaining 0 at once, and after its 429s', async () => {
    const now = gw.clock.now();
    await gw.close();
    gw = await startUsageGateway(config(place.url), now);
    // Rebuilt from the ledger: alice's day is spent, and the limits of everyone in the ledger are watched.
    const before = await scrape(gw.url);
    expect(values(before.get('tollgate_limit_remaining_tokens'), { limit: 'user:*:daily' })).toEqual([0]);
    expect(before.get('tollgate_limit_remaining_tokens')!.metrics.map((x) => x.labels!.limit)).toEqual(expect.arrayContaining(['org:default:daily', 'project:web:daily', 'user:*:daily']));

    const res = await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 5 });
    expect(res.status).toBe(429);
    const m = await scrape(gw.url);
    expect(values(m.get('tollgate_limit_remaining_tokens'), { limit: 'user:*:daily' })).toEqual([0]);
    expect(values(m.get('tollgate_limit_utilization'), { limit: 'user:*:daily' })[0]).toBeGreaterThanOrEqual(1);
    // With the limits of the other callers in the ledger (group tiny's).
    expect(m.get('tollgate_limit_remaining_tokens')!.metrics.map((x) => x.labels!.limit).sort()).toEqual(['group:tiny:daily', 'org:default:daily', 'project:web:daily', 'user:*:daily']);
    expect(sum(m.get('tollgate_limit_hits_total'), { limit: 'user:*:daily', mode: 'enforce' })).toBe(1);

    // A config reload keeps them: the same key and model's limits, as the new config has them.
    gw.reload();
    expect(values((await scrape(gw.url)).get('tollgate_limit_remaining_tokens'), { limit: 'user:*:daily' })).toEqual([0]);
    expect((await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 5 })).status).toBe(429);
    expect(values((await scrape(gw.url)).get('tollgate_limit_remaining_tokens'), { limit: 'user:*:daily' })).toEqual([0]);
    const raised = config(place.url).replace('tier_a: {daily_limit: 100}', 'tier_a: {daily_limit: 150}');
    expect(raised).toContain('daily_limit: 150');
    gw.reload(raised);
    expect(values((await scrape(gw.url)).get('tollgate_limit_remaining_tokens'), { limit: 'user:*:daily' })).toEqual([50]);
  });
});
