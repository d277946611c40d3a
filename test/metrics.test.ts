// `GET /metrics` parses as Prometheus text format, and its counters match the ledger.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromFamily } from 'parse-prometheus-text-format';
import { startCacheReplay } from './helpers/anthropic-cache-replay.js';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { chat, startUsageGateway, withUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

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
  lastText = await scrapeText(url);
  return families(lastText);
}

/** Sum of a histogram's `_count` series whose labels include `match`, read from the text (the parser merges labelled histograms). */
function histogramCount(name: string, match: Record<string, string> = {}): number {
  const wanted = Object.entries(match).map(([k, v]) => `${k}="${v}"`);
  return [...lastText.matchAll(new RegExp(`^${name}_count(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))]
    .filter((m) => wanted.every((pair) => (m[1] ?? '').split(',').includes(pair)))
    .reduce((s, m) => s + Number(m[2]), 0);
}

/** How many observations of a histogram's series matching `match` took at most `le` seconds. */
function bucketCount(name: string, le: string, match: Record<string, string>): number {
  const wanted = [...Object.entries(match).map(([k, v]) => `${k}="${v}"`), `le="${le}"`];
  return [...lastText.matchAll(new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, 'gm'))]
    .filter((m) => wanted.every((pair) => m[1].split(',').includes(pair)))
    .reduce((s, m) => s + Number(m[2]), 0);
}

/** The largest `le` bound of a histogram series whose bucket holds none of its observations: they all took longer. */
function emptyBucketBound(name: string, match: Record<string, string>): number {
  const wanted = Object.entries(match).map(([k, v]) => `${k}="${v}"`);
  const empty = [...lastText.matchAll(new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, 'gm'))]
    .filter((m) => wanted.every((pair) => m[1].split(',').includes(pair)) && Number(m[2]) === 0)
    .map((m) => Number(/le="([^"]+)"/.exec(m[1])![1]));
  return Math.max(0, ...empty);
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
      tollgate_prompt_cache_tokens_total: 'COUNTER',
      tollgate_cost_usd_total: 'COUNTER',
      tollgate_limit_hits_total: 'COUNTER',
      tollgate_fallbacks_total: 'COUNTER',
      tollgate_gateway_overhead_seconds: 'HISTOGRAM',
      tollgate_upstream_latency_seconds: 'HISTOGRAM',
      tollgate_limit_remaining_tokens: 'GAUGE',
      tollgate_limit_remaining_requests: 'GAUGE',
      tollgate_limit_remaining_usd: 'GAUGE',
      tollgate_limit_utilization: 'GAUGE',
      tollgate_burn_rate_tokens_per_minute: 'GAUGE',
      tollgate_burn_rate_usd_per_hour: 'GAUGE',
      tollgate_queue_depth: 'GAUGE',
      tollgate_background_calls_pending: 'GAUGE',
      tollgate_ledger_write_lag_seconds: 'GAUGE',
      tollgate_ledger_pending_rows: 'GAUGE',
      tollgate_ledger_rows_written_total: 'COUNTER',
      tollgate_ledger_write_failures_total: 'COUNTER',
      tollgate_ledger_rows_dropped_total: 'COUNTER',
      tollgate_ledger_rows_spilled_total: 'COUNTER',
    });
    expect(sum(m.get('tollgate_queue_depth'))).toBe(0);
    expect(sum(m.get('tollgate_background_calls_pending'))).toBe(0);
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
    expect(histogramCount('tollgate_gateway_overhead_seconds', { outcome: 'forwarded' })).toBe(served + failed);
    // The call a limit refused (bob's 429) cost gateway time too: it is timed, apart from the forwarded ones.
    const blocked = (await gw.usage.ledger.summarize({ groupBy: ['decision'] })).find((g) => g.keys.decision === 'blocked')?.calls ?? 0;
    expect(blocked).toBe(1);
    expect(histogramCount('tollgate_gateway_overhead_seconds', { outcome: 'refused' })).toBe(blocked);
    expect(histogramCount('tollgate_gateway_overhead_seconds')).toBe(served + failed + blocked);
  });

  it('counts limit hits and headroom per limit, with users collapsed into one series', async () => {
    const m = await scrape(gw.url);
    expect(sum(m.get('tollgate_limit_hits_total'), { limit: 'user:*:daily', mode: 'enforce' })).toBe(1);
    // One family per unit: the rate limit counts requests, the others tokens; nothing sums tokens with requests.
    expect(m.get('tollgate_limit_remaining_tokens')!.metrics.map((x) => x.labels!.limit).sort()).toEqual(['org:default:daily', 'project:web:daily', 'user:*:daily']);
    expect(m.get('tollgate_limit_remaining_requests')!.metrics.map((x) => x.labels!.limit)).toEqual(['user:*:rate']);
    expect(m.get('tollgate_limit_remaining_usd')?.metrics ?? []).toEqual([]);
    expect(sum(m.get('tollgate_limit_remaining_requests'), { limit: 'user:*:rate' })).toBeLessThan(1000);
    // The most used user of tier_a shows: the ledger says how many tokens each used today.
    const perUser = await gw.usage.ledger.summarize({ groupBy: ['user'], where: { project: 'web' } });
    const most = Math.max(...perUser.map((g) => g.inputTokens + g.outputTokens));
    expect(sum(m.get('tollgate_limit_remaining_tokens'), { limit: 'user:*:daily' })).toBe(400 - most);
    expect(sum(m.get('tollgate_limit_utilization'), { limit: 'user:*:daily' })).toBeCloseTo(most / 400, 9);
    const total = (await gw.usage.ledger.summarize({ groupBy: [] }))[0];
    expect(sum(m.get('tollgate_limit_remaining_tokens'), { limit: 'org:default:daily' })).toBe(1_000_000 - total.inputTokens - total.outputTokens);
    // The gateway started less than a minute ago (its clock has not moved): the rate is over one minute, not five.
    expect(sum(m.get('tollgate_burn_rate_tokens_per_minute'), { organization: 'default' })).toBeCloseTo(total.inputTokens + total.outputTokens, 6);
  });

  it('counts requests rejected before they became calls by path, status and code; calls refused by a limit are not among them', async () => {
    const post = (path: string, body: string, headers: Record<string, string> = { authorization: 'Bearer tg-alice' }) =>
      fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post('/v1/chat/completions', '{"model":')).status).toBe(400);
    expect((await post('/v1/chat/completions', '{}', {})).status).toBe(401);
    expect((await post('/v1/embeddings', '{"model":"nope","input":"x"}')).status).toBe(404);
    expect((await post('/v1/nothing', '{}')).status).toBe(404);
    const m = await scrape(gw.url);
    // Each is timed as gateway overhead too, by endpoint (`other` for paths that are not proxied endpoints).
    expect(histogramCount('tollgate_gateway_overhead_seconds', { outcome: 'rejected', endpoint: 'chat' })).toBe(2);
    expect(histogramCount('tollgate_gateway_overhead_seconds', { outcome: 'rejected', endpoint: 'embeddings' })).toBe(1);
    expect(histogramCount('tollgate_gateway_overhead_seconds', { outcome: 'rejected', endpoint: 'other' })).toBe(1);
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

  it('times a rejected request from the arrival of its body: a slow upload is the client\'s time, not the gateway\'s', async () => {
    const { hostname, port } = new URL(gw.url);
    const body = '{"model": "gpt-4o", "messages": [';
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: hostname, port, method: 'POST', path: '/v1/chat/completions', headers: { authorization: 'Bearer tg-alice', 'content-type': 'application/json', 'content-length': body.length } });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 400); // the rest of the body 0.4 s later
    });
    expect(status).toBe(400);
    await scrape(gw.url);
    const rejectedChat = { endpoint: 'chat', outcome: 'rejected' };
    expect(histogramCount('tollgate_gateway_overhead_seconds', rejectedChat)).toBeGreaterThanOrEqual(1);
    expect(bucketCount('tollgate_gateway_overhead_seconds', '0.25', rejectedChat)).toBe(histogramCount('tollgate_gateway_overhead_seconds', rejectedChat));
  });

  it("exports Node's process metrics under tollgate_, the event-loop delay without its sampling interval", async () => {
    await new Promise((r) => setTimeout(r, 350)); // a few 100 ms samples of an idle loop
    const m = await scrape(gw.url);
    expect(m.get('tollgate_process_cpu_seconds_total')?.type).toBe('COUNTER');
    expect(m.get('tollgate_nodejs_heap_size_used_bytes')?.type).toBe('GAUGE');
    expect([...m.keys()].filter((name) => name.includes('process_process'))).toEqual([]);
    // An idle loop is late by well under a millisecond; Node's raw histogram says 0.1 s (the interval itself).
    for (const stat of ['min', 'p50', 'p99']) expect(sum(m.get(`tollgate_nodejs_eventloop_lag_${stat}_seconds`)), stat).toBeLessThan(0.05);
    // Read from one histogram: the max is at least the p99. (Not above 0: libuv's millisecond loop clock
    // can fire every sample a hair early by the nanosecond clock, leaving nothing beyond the interval.)
    const max = sum(m.get('tollgate_nodejs_eventloop_lag_max_seconds'));
    expect(m.get('tollgate_nodejs_eventloop_lag_max_seconds')?.type).toBe('GAUGE');
    expect(max).toBeGreaterThanOrEqual(sum(m.get('tollgate_nodejs_eventloop_lag_p99_seconds')));
  });

  it('keeps organizations apart when their projects (and so their limits) have the same name', async () => {
    await withUsageGateway((ledgerUrl) => `
server: {timezone: UTC}
storage: {ledger: "${ledgerUrl}"}
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
`, async (twoOrgs) => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await chat(twoOrgs.url, 'tg-a', { model: 'gpt-4o', max_tokens: 10 })).status);
      expect(statuses.at(-1)).toBe(429); // acme's project web is spent; globex's is not
      expect((await chat(twoOrgs.url, 'tg-g', { model: 'gpt-4o', max_tokens: 10 })).status).toBe(200);
      await twoOrgs.usage.writer.flush();
      const m = await scrape(twoOrgs.url);
      for (const g of await twoOrgs.usage.ledger.summarize({ groupBy: ['organization'] })) {
        const organization = g.keys.organization!;
        const series = { organization, limit: 'project:web:daily' };
        expect(sum(m.get('tollgate_limit_remaining_tokens'), series), organization).toBe(Math.max(0, 60 - g.inputTokens - g.outputTokens));
        expect(sum(m.get('tollgate_limit_hits_total'), series), organization).toBe(organization === 'acme' ? 1 : 0);
      }
      expect(m.get('tollgate_limit_remaining_tokens')!.metrics.filter((x) => x.labels!.limit === 'project:web:daily')).toHaveLength(2);
    });
  });

  it('answers only scrapes that carry metrics.bearer_token when one is set', async () => {
    await withUsageGateway((ledgerUrl) => `storage: {ledger: "${ledgerUrl}"}\nmetrics: {bearer_token: scrape-secret}\n`, async (guarded) => {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Bearer tg-alice' }] as Array<Record<string, string>>) {
        const res = await fetch(`${guarded.url}/metrics`, { headers });
        expect(res.status).toBe(401);
        expect(await res.json()).toMatchObject({ error: { code: 'metrics_token_required' } });
      }
      const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer scrape-secret' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('tollgate_requests_total');
    });
  });

  it('counts the input read from and written to the prompt cache in tollgate_prompt_cache_tokens_total, as the ledger records it', async () => {
    // The mock upstream reports no cache tokens: this one replays an Anthropic stream that wrote 3,000
    // (1,000 with a 1-hour TTL) and read 5,000 of its 10,000 input tokens.
    const replay = await startCacheReplay();
    try {
      await withUsageGateway((ledgerUrl) => `
storage: {ledger: "${ledgerUrl}"}
providers: {claude: {type: anthropic, base_url: "${replay.url}"}}
routes: {main: {chat_models: [{model_id: cached, model: claude/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-k}]
`, async (cached) => {
        const res = await chat(cached.url, 'tg-k', { model: 'cached', stream: true, stream_options: { include_usage: true } });
        expect(res.status).toBe(200);
        await cached.usage.writer.flush();
        const m = await scrape(cached.url);
        const [row] = await cached.usage.ledger.rows({ requestIds: [res.headers.get('x-tollgate-request-id')!] });
        const tokens = m.get('tollgate_tokens_total');
        const cache = m.get('tollgate_prompt_cache_tokens_total');
        expect(sum(cache, { model: 'claude/claude-sonnet-4-5', type: 'write' })).toBe(3_000);
        expect(sum(cache, { type: 'read' })).toBe(5_000);
        expect(sum(tokens, { type: 'input' })).toBe(10_000);
        // Summed over its types, tollgate_tokens_total is the tokens used: the cache's share is not counted twice.
        expect(sum(tokens)).toBe(row.inputTokens + row.outputTokens);
        expect(row).toMatchObject({ inputTokens: 10_000, cachedInputTokens: 5_000, cacheWriteInputTokens: 3_000, cacheWrite1hInputTokens: 1_000, serviceTier: null });
        expect((await cached.usage.ledger.summarize({ groupBy: [] }))[0].cacheWriteInputTokens).toBe(3_000);
      });
    } finally {
      await replay.close();
    }
  });

  it('times refused calls as gateway overhead: a slow counter store shows in their latency', async () => {
    await withUsageGateway((ledgerUrl) => `
storage: {ledger: "${ledgerUrl}"}
enforcement: {clamp_max_tokens: false}
providers: {demo: {type: mock, output_tokens: 15}}
projects: {web: {daily_limit: 60}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a, project: web}]
`, async (slow) => {
      // Every reservation waits 60 ms, as a counter store far away or overloaded would make it.
      const reserve = slow.store.reserve.bind(slow.store);
      slow.store.reserve = async (req) => {
        await new Promise((r) => setTimeout(r, 60));
        return reserve(req);
      };
      const statuses: number[] = [];
      while (statuses.at(-1) !== 429 && statuses.length < 6) statuses.push((await chat(slow.url, 'tg-a', { model: 'gpt-4o', max_tokens: 10 })).status);
      expect(statuses.at(-1)).toBe(429); // web's day is spent
      await scrape(slow.url);
      expect(histogramCount('tollgate_gateway_overhead_seconds', { outcome: 'refused', endpoint: 'chat' })).toBe(1);
      // Its one observation is above the 50 ms bucket: the wait for the store is in it.
      expect(emptyBucketBound('tollgate_gateway_overhead_seconds', { outcome: 'refused', endpoint: 'chat' })).toBeGreaterThanOrEqual(0.05);
    });
  });

  it('averages the burn rate over the time since the start, not a fixed five minutes', async () => {
    await withUsageGateway((ledgerUrl) => `
storage: {ledger: "${ledgerUrl}"}
providers: {demo: {type: mock, output_tokens: 15}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a}]
`, async (fresh) => {
      fresh.clock.advance(30_000);
      await chat(fresh.url, 'tg-a', { model: 'gpt-4o', max_tokens: 10 });
      fresh.clock.advance(60_000);
      await chat(fresh.url, 'tg-a', { model: 'gpt-4o', max_tokens: 10 });
      fresh.clock.advance(30_000); // two minutes after the start
      await fresh.usage.writer.flush();
      const [total] = await fresh.usage.ledger.summarize({ groupBy: [] });
      const m = await scrape(fresh.url);
      expect(sum(m.get('tollgate_burn_rate_tokens_per_minute'), { organization: 'default' })).toBeCloseTo((total.inputTokens + total.outputTokens) / 2, 6);
      expect(sum(m.get('tollgate_burn_rate_usd_per_hour'), { organization: 'default' })).toBeCloseTo(total.costUsd * 30, 9);
    });
  });

  it('labels users only when metrics.user_labels is on', async () => {
    await withUsageGateway((ledgerUrl) => config(ledgerUrl, true), async (labelled) => {
      await chat(labelled.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 10 });
      const m = await scrape(labelled.url);
      expect(sum(m.get('tollgate_tokens_total'), { user: 'alice', type: 'output' })).toBe(10);
      expect(m.get('tollgate_limit_remaining_tokens')!.metrics.map((x) => x.labels!.limit)).toContain('user:alice:daily');
    });
  });
});
