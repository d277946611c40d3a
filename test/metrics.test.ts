// `GET /metrics` parses as Prometheus text format, and its counters match the ledger.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import { startCacheReplay } from './helpers/anthropic-cache-replay.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { chat, startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

const config = (ledger: string, userLabels: boolean): string => `
server: {timezone: UTC}
storage: {ledger: "${ledger}"}
metrics: {user_labels: ${userLabels}}
enforcement: {clamp_max_tokens: false}
providers:
  demo: {type: mock, output_tokens: 15}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organization: {daily_cap: 1000000}
projects:
  web: {daily_limit: 100000}
users:
  tier_a: {daily_limit: 400, rate_limit: 1000}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
      - {model_id: mini, model: demo/gpt-4o-mini}
keys:
  - {id: alice, key: tg-alice, user: alice, tier: tier_a, project: web}
  - {id: bob, key: tg-bob, user: bob, tier: tier_a, project: web}
  - {id: ops, key: tg-ops}
`;

let lastText = '';

async function scrape(url: string): Promise<Map<string, PromFamily>> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  lastText = await res.text();
  return new Map(parsePrometheusTextFormat(lastText).map((f) => [f.name, f]));
}

/** Sum of a histogram's `_count` series, read from the text (the parser merges labelled histograms). */
function histogramCount(name: string): number {
  return [...lastText.matchAll(new RegExp(`^${name}_count(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0);
}

function sum(f: PromFamily | undefined, match: Record<string, string> = {}): number {
  return (f?.metrics ?? []).filter((m) => Object.entries(match).every(([k, v]) => m.labels?.[k] === v)).reduce((s, m) => s + Number(m.value), 0);
}

describe('Prometheus metrics', () => {
  let place: LedgerPlace;
  let gw: UsageTestGateway;

  beforeAll(async () => {
    place = sqlitePlace();
    gw = await startUsageGateway(config(place.url, false));
    const calls: Array<[string, Record<string, unknown>]> = [
      ['tg-alice', { model: 'gpt-4o', max_tokens: 30 }],
      ['tg-alice', { model: 'gpt-4o', stream: true, max_tokens: 30 }],
      ['tg-alice', { model: 'mini', max_tokens: 30 }],
      ['tg-bob', { model: 'gpt-4o', max_tokens: 30 }],
      ['tg-bob', { model: 'gpt-4o', max_tokens: 390 }], // over bob's 400-token day now: 429
      ['tg-ops', { model: 'mini', mock_error_status: 503 }],
      ['tg-ops', { model: 'gpt-4o', max_tokens: 10 }],
    ];
    for (const [key, body] of calls) await chat(gw.url, key, body);
    await gw.usage.writer.flush();
  });
  afterAll(async () => {
    await gw?.close();
    await place?.drop();
  });

  it('exports every family with the right type', async () => {
    const m = await scrape(gw.url);
    const processMetric = (name: string): boolean => name.startsWith('tollgate_process_') || name.startsWith('tollgate_nodejs_');
    const types = Object.fromEntries([...m.values()].filter((f) => f.name.startsWith('tollgate_') && !processMetric(f.name)).map((f) => [f.name, f.type]));
    expect(types).toEqual({
      tollgate_requests_total: 'COUNTER',
      tollgate_rejected_requests_total: 'COUNTER',
      tollgate_tokens_total: 'COUNTER',
      tollgate_cost_usd_total: 'COUNTER',
      tollgate_limit_hits_total: 'COUNTER',
      tollgate_fallbacks_total: 'COUNTER',
      tollgate_gateway_overhead_seconds: 'HISTOGRAM',
      tollgate_upstream_latency_seconds: 'HISTOGRAM',
      tollgate_limit_remaining: 'GAUGE',
      tollgate_limit_utilization: 'GAUGE',
      tollgate_burn_rate_tokens_per_minute: 'GAUGE',
      tollgate_burn_rate_usd_per_hour: 'GAUGE',
      tollgate_queue_depth: 'GAUGE',
      tollgate_ledger_write_lag_seconds: 'GAUGE',
      tollgate_ledger_pending_rows: 'GAUGE',
      tollgate_ledger_rows_written_total: 'COUNTER',
      tollgate_ledger_write_failures_total: 'COUNTER',
      tollgate_ledger_rows_dropped_total: 'COUNTER',
    });
    expect(sum(m.get('tollgate_queue_depth'))).toBe(0);
    expect(sum(m.get('tollgate_ledger_rows_written_total'))).toBe(7);
    expect(sum(m.get('tollgate_ledger_pending_rows'))).toBe(0);
  });

  it('token, cost and request counters equal the ledger sums', async () => {
    const m = await scrape(gw.url);
    const groups = await gw.usage.ledger.summarize({ groupBy: ['organization', 'project', 'model'] });
    expect(groups.length).toBe(4); // web and no project, each on two models
    for (const g of groups) {
      const labels = { organization: g.keys.organization!, project: g.keys.project ?? '', model: g.keys.model! };
      expect(sum(m.get('tollgate_tokens_total'), { ...labels, type: 'input' }), JSON.stringify(labels)).toBe(g.inputTokens);
      expect(sum(m.get('tollgate_tokens_total'), { ...labels, type: 'output' })).toBe(g.outputTokens);
      expect(sum(m.get('tollgate_cost_usd_total'), labels)).toBeCloseTo(g.costUsd, 12);
      expect(sum(m.get('tollgate_requests_total'), labels)).toBe(g.calls);
    }
    for (const g of await gw.usage.ledger.summarize({ groupBy: ['status', 'decision'] })) {
      expect(sum(m.get('tollgate_requests_total'), { status: g.keys.status!, decision: g.keys.decision! })).toBe(g.calls);
    }
    // The built-in list prices gpt-4o-mini, so its calls cost money without a `pricing` entry.
    expect(sum(m.get('tollgate_cost_usd_total'), { model: 'demo/gpt-4o-mini' })).toBeGreaterThan(0);
    // Every call that reached the provider is timed: those it served, and the one it failed (503).
    const served = (await gw.usage.ledger.summarize({ groupBy: [] }))[0].served;
    const failed = (await gw.usage.ledger.summarize({ groupBy: ['status'] })).find((g) => g.keys.status === '503')?.calls ?? 0;
    expect(failed).toBe(1);
    expect(histogramCount('tollgate_upstream_latency_seconds')).toBe(served + failed);
    expect(histogramCount('tollgate_gateway_overhead_seconds')).toBe(served + failed);
  });

  it('counts limit hits and headroom per limit, with users collapsed into one series', async () => {
    const m = await scrape(gw.url);
    expect(sum(m.get('tollgate_limit_hits_total'), { limit: 'user:*:daily', mode: 'enforce' })).toBe(1);
    const remaining = m.get('tollgate_limit_remaining')!.metrics;
    const labels = remaining.map((x) => x.labels!.limit).sort();
    expect(labels).toEqual(['org:default:daily', 'project:web:daily', 'user:*:daily', 'user:*:rate']);
    // The most used user of tier_a shows: the ledger says how many tokens each used today.
    const perUser = await gw.usage.ledger.summarize({ groupBy: ['user'], where: { project: 'web' } });
    const most = Math.max(...perUser.map((g) => g.inputTokens + g.outputTokens));
    expect(sum(m.get('tollgate_limit_remaining'), { limit: 'user:*:daily' })).toBe(400 - most);
    expect(sum(m.get('tollgate_limit_utilization'), { limit: 'user:*:daily' })).toBeCloseTo(most / 400, 9);
    const total = (await gw.usage.ledger.summarize({ groupBy: [] }))[0];
    expect(sum(m.get('tollgate_limit_remaining'), { limit: 'org:default:daily' })).toBe(1_000_000 - total.inputTokens - total.outputTokens);
    expect(sum(m.get('tollgate_burn_rate_tokens_per_minute'), { organization: 'default' })).toBeCloseTo(((total.inputTokens + total.outputTokens) * 60_000) / 300_000, 6);
  });

  it('counts requests rejected before they became calls by path, status and code; calls refused by a limit are not among them', async () => {
    const post = (path: string, body: string, headers: Record<string, string> = { authorization: 'Bearer tg-alice' }) =>
      fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post('/v1/chat/completions', '{"model":')).status).toBe(400);
    expect((await post('/v1/chat/completions', '{}', {})).status).toBe(401);
    expect((await post('/v1/embeddings', '{"model":"nope","input":"x"}')).status).toBe(404);
    expect((await post('/v1/nothing', '{}')).status).toBe(404);
    const m = await scrape(gw.url);
    const rejected = Object.fromEntries(m.get('tollgate_rejected_requests_total')!.metrics.map((x) => [`${x.labels!.path} ${x.labels!.status} ${x.labels!.code}`, Number(x.value)]));
    expect(rejected).toEqual({
      '/v1/chat/completions 400 invalid_json': 1,
      '/v1/chat/completions 401 missing_api_key': 1,
      '/v1/embeddings 404 model_not_found': 1,
      'other 404 not_found': 1,
    });
    // bob's 429 is a call: a ledger row, in tollgate_requests_total.
    expect(sum(m.get('tollgate_requests_total'), { status: '429' })).toBe(1);
  });

  it("exports Node's process metrics under tollgate_, the event-loop delay without its sampling interval", async () => {
    await new Promise((r) => setTimeout(r, 350)); // a few 100 ms samples of an idle loop
    const m = await scrape(gw.url);
    expect(m.get('tollgate_process_cpu_seconds_total')?.type).toBe('COUNTER');
    expect(m.get('tollgate_nodejs_heap_size_used_bytes')?.type).toBe('GAUGE');
    expect([...m.keys()].filter((name) => name.includes('process_process'))).toEqual([]);
    // An idle loop is late by well under a millisecond; Node's raw histogram says 0.1 s (the interval itself).
    for (const stat of ['min', 'p50', 'p99']) expect(sum(m.get(`tollgate_nodejs_eventloop_lag_${stat}_seconds`)), stat).toBeLessThan(0.05);
    expect(sum(m.get('tollgate_nodejs_eventloop_lag_max_seconds'))).toBeGreaterThan(0);
  });

  it('keeps organizations apart when their projects (and so their limits) have the same name', async () => {
    const other = sqlitePlace();
    const twoOrgs = await startUsageGateway(`
server: {timezone: UTC}
storage: {ledger: "${other.url}"}
providers:
  demo: {type: mock, output_tokens: 15}
organizations: {acme: {}, globex: {}}
projects:
  web: {daily_limit: 60}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys:
  - {id: a, key: tg-a, project: web, organization: acme}
  - {id: g, key: tg-g, project: web, organization: globex}
`);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await chat(twoOrgs.url, 'tg-a', { model: 'gpt-4o', max_tokens: 10 })).status);
      expect(statuses.at(-1)).toBe(429); // acme's project web is spent; globex's is not
      expect((await chat(twoOrgs.url, 'tg-g', { model: 'gpt-4o', max_tokens: 10 })).status).toBe(200);
      await twoOrgs.usage.writer.flush();
      const m = await scrape(twoOrgs.url);
      for (const g of await twoOrgs.usage.ledger.summarize({ groupBy: ['organization'] })) {
        const organization = g.keys.organization!;
        const series = { organization, limit: 'project:web:daily' };
        expect(sum(m.get('tollgate_limit_remaining'), series), organization).toBe(Math.max(0, 60 - g.inputTokens - g.outputTokens));
        expect(sum(m.get('tollgate_limit_hits_total'), series), organization).toBe(organization === 'acme' ? 1 : 0);
      }
      expect(m.get('tollgate_limit_remaining')!.metrics.filter((x) => x.labels!.limit === 'project:web:daily')).toHaveLength(2);
    } finally {
      await twoOrgs.close();
      await other.drop();
    }
  });

  it('answers only scrapes that carry metrics.bearer_token when one is set', async () => {
    const other = sqlitePlace();
    const guarded = await startUsageGateway(`storage: {ledger: "${other.url}"}\nmetrics: {bearer_token: scrape-secret}\n`);
    try {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Bearer tg-alice' }] as Array<Record<string, string>>) {
        const res = await fetch(`${guarded.url}/metrics`, { headers });
        expect(res.status).toBe(401);
        expect(await res.json()).toMatchObject({ error: { code: 'metrics_token_required' } });
      }
      const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer scrape-secret' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('tollgate_requests_total');
    } finally {
      await guarded.close();
      await other.drop();
    }
  });

  it('counts the input written to the prompt cache as type="cache_write", as the ledger records it', async () => {
    // The mock upstream reports no cache tokens: this one replays an Anthropic stream that wrote 3,000
    // (1,000 with a 1-hour TTL) and read 5,000 of its 10,000 input tokens.
    const replay = await startCacheReplay();
    const other = sqlitePlace();
    const cached = await startUsageGateway(`
storage: {ledger: "${other.url}"}
providers: {claude: {type: anthropic, base_url: "${replay.url}"}}
routes: {main: {chat_models: [{model_id: cached, model: claude/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-k}]
`);
    try {
      const res = await chat(cached.url, 'tg-k', { model: 'cached', stream: true, stream_options: { include_usage: true } });
      expect(res.status).toBe(200);
      await cached.usage.writer.flush();
      const m = await scrape(cached.url);
      const tokens = m.get('tollgate_tokens_total');
      expect(sum(tokens, { model: 'claude/claude-sonnet-4-5', type: 'cache_write' })).toBe(3_000);
      expect(sum(tokens, { type: 'cached_input' })).toBe(5_000);
      expect(sum(tokens, { type: 'input' })).toBe(10_000);
      const [row] = await cached.usage.ledger.rows({ requestIds: [res.headers.get('x-tollgate-request-id')!] });
      expect(row).toMatchObject({ inputTokens: 10_000, cachedInputTokens: 5_000, cacheWriteInputTokens: 3_000, cacheWrite1hInputTokens: 1_000, serviceTier: null });
      expect((await cached.usage.ledger.summarize({ groupBy: [] }))[0].cacheWriteInputTokens).toBe(3_000);
    } finally {
      await cached.close();
      await other.drop();
      await replay.close();
    }
  });

  it('labels users only when metrics.user_labels is on', async () => {
    const other = sqlitePlace();
    const labelled = await startUsageGateway(config(other.url, true));
    try {
      await chat(labelled.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 10 });
      const m = await scrape(labelled.url);
      expect(sum(m.get('tollgate_tokens_total'), { user: 'alice', type: 'output' })).toBe(10);
      expect(m.get('tollgate_limit_remaining')!.metrics.map((x) => x.labels!.limit)).toContain('user:alice:daily');
    } finally {
      await labelled.close();
      await other.drop();
    }
  });
});
