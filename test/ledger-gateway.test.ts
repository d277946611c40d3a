// Ledger rows as real calls produce them, on SQLite and on the real PostgreSQL: streamed and not,
// blocked, failed, tagged, priced; flushed on close; counters rebuilt from them after a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import pino from 'pino';
import { loadPolicy } from '../src/config/index.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { startUsageServices } from '../src/server/usage-services.js';
import { systemClock } from '../src/util/clock.js';
import { LEDGER_KINDS, type LedgerPlace } from './helpers/ledgers.js';
import { writeConfig } from './helpers/processes.js';
import { chat, startUsageGateway, withUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

const config = (ledger: string): string => `
server: {timezone: UTC}
storage: {ledger: "${ledger}"}
ledger: {flush_interval_ms: 20}
enforcement: {clamp_max_tokens: false}
providers:
  demo: {type: mock, output_tokens: 20}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organization: {daily_cap: 100000}
projects:
  web: {daily_limit: 5000}
users:
  tier_a: {daily_limit: 1000, rate_limit: 50}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
      - {model_id: claude, model: demo/claude-sonnet-4-5-20250929}
keys:
  - {id: alice-laptop, key: tg-alice, user: alice, tier: tier_a, project: web, groups: [ml]}
  - {id: bob, key: tg-bob, project: web}
`;

describe.each(LEDGER_KINDS)('ledger rows from real calls: $kind', ({ place: makePlace }) => {
  let place: LedgerPlace;
  let gw: UsageTestGateway;

  beforeAll(async () => {
    place = await makePlace();
    gw = await startUsageGateway(config(place.url));
  });
  afterAll(async () => {
    await gw?.close().catch(() => {});
    await place?.drop();
  });

  const rowsOf = async (ids: string[]): Promise<LedgerRow[]> => {
    await gw.usage.writer.flush();
    return gw.usage.ledger.rows({ requestIds: ids });
  };

  it("records the provider's response id of a Responses API call, streamed or not, to match it with the provider's records", async () => {
    const responses = async (stream: boolean): Promise<{ requestId: string; responseId: string }> => {
      const res = await fetch(`${gw.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: 'Bearer tg-bob', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', input: 'Hello there', max_output_tokens: 50, stream }),
      });
      const text = await res.text();
      return { requestId: res.headers.get('x-tollgate-request-id')!, responseId: /"id":"(resp_[^"]+)"/.exec(text)![1] };
    };
    const plain = await responses(false);
    const streamed = await responses(true);
    const other = await chat(gw.url, 'tg-bob', { model: 'gpt-4o', max_tokens: 20 });
    const otherId = other.headers.get('x-tollgate-request-id')!;
    const rows = await rowsOf([plain.requestId, streamed.requestId, otherId]);
    const byRequest = new Map(rows.map((r) => [r.requestId, r.providerResponseId]));
    expect(Object.fromEntries(byRequest)).toEqual({ [plain.requestId]: plain.responseId, [streamed.requestId]: streamed.responseId, [otherId]: null });
  });

  it('records a non-streamed call with who, what, tags, tokens, cost, latency and limits', async () => {
    const res = await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 50, metadata: { feature: 'search' } }, { 'x-tollgate-tags': 'env=staging, feature=chat' });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-tollgate-request-id')!;
    const [row] = await rowsOf([id]);
    const usage = (res.body as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    expect(row).toMatchObject({
      ts: gw.clock.now(),
      requestId: id,
      organization: 'default',
      project: 'web',
      user: 'alice',
      keyId: 'alice-laptop',
      groups: ['ml'],
      route: 'main',
      modelId: 'gpt-4o',
      provider: 'demo',
      model: 'gpt-4o',
      endpoint: 'chat',
      stream: false,
      tags: { feature: 'chat', env: 'staging' },
      status: 200,
      decision: 'admitted',
      blockedBy: null,
      limits: ['org:default:daily', 'project:web:daily', 'user:alice:daily', 'user:alice:rate'],
      shadowBlocked: [],
      fallback: null,
      inputTokens: usage.prompt_tokens,
      outputTokens: 20,
      cachedInputTokens: 0,
      cacheWriteInputTokens: 0,
      cacheWrite1hInputTokens: 0,
      reservedOutput: 50,
      serviceTier: null,
      usageSource: 'provider',
    });
    expect(row.costUsd).toBeCloseTo((usage.prompt_tokens * 2.5 + 20 * 10) / 1e6, 12);
    expect(row.latencyMs).toBeGreaterThan(0);
    expect(row.upstreamLatencyMs).toBeGreaterThan(0);
    expect(row.latencyMs).toBeGreaterThanOrEqual(row.upstreamLatencyMs!);
    expect(JSON.stringify(row)).not.toContain('tg-alice');
  });

  it('records a streamed call (usage read from the stream), priced from the built-in list when config has no price', async () => {
    const res = await chat(gw.url, 'tg-bob', { model: 'claude', stream: true, max_tokens: 40 });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-tollgate-request-id')!;
    const [row] = await rowsOf([id]);
    expect(row).toMatchObject({ stream: true, streamEnd: 'complete', user: 'bob', keyId: 'bob', project: 'web', model: 'claude-sonnet-4-5-20250929', outputTokens: 20, status: 200, usageSource: 'provider' });
    // claude-sonnet-4-5 lists at $3 / $15 per million.
    expect(row.costUsd).toBeCloseTo((row.inputTokens * 3 + 20 * 15) / 1e6, 12);
  });

  it('records a counted (estimated) usage when the upstream reports none', async () => {
    const res = await chat(gw.url, 'tg-bob', { model: 'gpt-4o', mock_omit_usage: true });
    const [row] = await rowsOf([res.headers.get('x-tollgate-request-id')!]);
    expect(row.usageSource).toBe('estimated');
    expect(row.outputTokens).toBeGreaterThan(0);
  });

  it('records failed and blocked calls with no usage, the limit that blocked, and no cost', async () => {
    const failed = await chat(gw.url, 'tg-bob', { model: 'gpt-4o', mock_error_status: 500 });
    expect(failed.status).toBe(500);
    // Fits alice's 1000-token day when empty (so not a 400), but not after the first test's call.
    const over = await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 985 });
    expect(over.status).toBe(429);
    const rows = await rowsOf([failed.headers.get('x-tollgate-request-id')!, over.headers.get('x-tollgate-request-id')!]);
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, r]));
    expect(byStatus[500]).toMatchObject({ decision: 'failed', inputTokens: 0, outputTokens: 0, costUsd: 0, usageSource: 'none' });
    expect(byStatus[429]).toMatchObject({ decision: 'blocked', blockedBy: expect.stringMatching(/^(user:alice|project:web):daily$/), limits: ['org:default:daily', 'project:web:daily', 'user:alice:daily', 'user:alice:rate'], reservedOutput: 0, costUsd: 0, usageSource: 'none' });
  });

  it('flushes buffered rows on close, and a restarted gateway rebuilds its counters from them', async () => {
    // Spend about half of alice's 1000-token day, then restart with an empty memory store.
    let spent = 0;
    while (spent < 500) {
      const r = await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 20 });
      expect(r.status).toBe(200);
      const u = (r.body as { usage: { total_tokens: number } }).usage;
      spent += u.total_tokens;
    }
    const before = await gw.store.peek(gw.gateway.engine.applicable.for(principalOfAlice(gw), targetOf(gw)).map((l) => l.item));
    const now = gw.clock.now();
    await gw.close();

    gw = await startUsageGateway(config(place.url), now);
    const after = await gw.store.peek(gw.gateway.engine.applicable.for(principalOfAlice(gw), targetOf(gw)).map((l) => l.item));
    expect(after.map((s) => s.used)).toEqual(before.map((s) => s.used));
    const res = await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 1 });
    expect(Number(res.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThanOrEqual(1000 - before[2].used);
  });
});

function principalOfAlice(gw: UsageTestGateway) {
  return gw.gateway.keys.resolve('tg-alice')!;
}

function targetOf(gw: UsageTestGateway) {
  return gw.gateway.routes.resolve(principalOfAlice(gw), 'gpt-4o', 'chat')!;
}

describe('usage services around reloads and switches', () => {
  it('keeps recording after a config reload builds a new gateway', async () => {
    await withUsageGateway(config, async (gw) => {
      const before = await chat(gw.url, 'tg-bob', { model: 'gpt-4o' });
      gw.reload();
      const after = await chat(gw.url, 'tg-bob', { model: 'gpt-4o' });
      await gw.usage.writer.flush();
      const ids = [before, after].map((r) => r.headers.get('x-tollgate-request-id')!);
      expect((await gw.usage.ledger.rows({ requestIds: ids })).length).toBe(2);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/tollgate_requests_total\{organization="default",project="web",model="demo\/gpt-4o",status="200",decision="admitted"\} 2/);
    });
  });

  it('answers 403 on admin endpoints without an admin key, and 404 with the ledger switched off', async () => {
    await withUsageGateway(config, async (gw) => {
      const res = await fetch(`${gw.url}/api/tokens/dashboard?org=default`, { headers: { authorization: 'Bearer anything' } });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('admin_disabled');
    });
    const policy = loadPolicy([writeConfig(`${config('sqlite:/nonexistent/never-opened.db')}\nledger: {enabled: false}\n`.replace('ledger: {flush_interval_ms: 20}\n', ''))]);
    const store = new MemoryCounterStore(systemClock, 'UTC');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const usage = await startUsageServices({ policy, store, clock: systemClock, log, currentPolicy: () => policy });
    expect(usage.ledger).toBeUndefined();
    expect(usage.routes).toHaveLength(1); // /metrics only
    expect(await usage.rebuild()).toMatchObject({ limits: 0 });
    // The start says there is nothing to rebuild from, not that counters were rebuilt from a ledger.
    await usage.rebuildLogged();
    expect(lines.join('')).toContain('no ledger (ledger.enabled: false): counters start from zero');
    expect(lines.join('')).not.toContain('counters rebuilt from the ledger');
    await usage.close();
  });
});
