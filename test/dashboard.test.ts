// `GET /api/tokens/dashboard` against a seeded ledger: every figure below is worked out by hand.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

// Wednesday 18 November 2026, 18:00 UTC: three quarters of the day gone, 12 days of the month left.
const NOW = Date.UTC(2026, 10, 18, 18);
const DAY = 86_400_000;
const ADMIN = 'admin-secret';

const config = (ledger: string): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
  "demo/gpt-4o-mini": {input: 0.15, output: 0.6}
organization: {daily_cap: 2000, monthly_budget: 20000}
projects:
  web: {daily_limit: 1000}
  batch: {daily_limit: 250, monthly_limit: 3500}
alerts:
  - {threshold: 0.8, action: warn, channels: [log]}
  - {threshold: 1.0, action: block, fallback: error}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
      - {model_id: gpt-4o-mini, model: demo/gpt-4o-mini}
    fallback: [gpt-4o-mini]
keys:
  - {id: alice, key: tg-alice, user: alice, project: web}
  - {id: bob, key: tg-bob, user: bob, project: batch}
`;

let seq = 0;
function row(ts: number, who: 'alice' | 'bob', input: number, output: number, over: Partial<LedgerRow> = {}): LedgerRow {
  const alice = who === 'alice';
  const model = alice ? 'gpt-4o' : 'gpt-4o-mini';
  const [pi, po] = alice ? [2.5, 10] : [0.15, 0.6];
  return {
    ts, requestId: `seed-${seq++}`, organization: 'default', project: alice ? 'web' : 'batch', user: who, keyId: who, groups: [],
    route: 'main', modelId: model, provider: 'demo', model, endpoint: 'chat', stream: false, streamEnd: null, tags: {}, status: 200, decision: 'admitted',
    blockedBy: null, limits: [], shadowBlocked: [], fallback: null, inputTokens: input, outputTokens: output, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0,
    reservedInput: input, reservedOutput: output, costUsd: (input * pi + output * po) / 1e6, inputCostUsd: (input * pi) / 1e6, toolFeesUsd: 0, serviceTier: null, usageSource: 'provider', latencyMs: 5, upstreamLatencyMs: 4, providerResponseId: null, inferenceGeo: null, audioInputTokens: 0, audioOutputTokens: 0,
    ...over,
  };
}

/**
 * 28 days of history before today (21 Oct - 17 Nov): on weekdays alice makes two gpt-4o calls of
 * 350 + 50 tokens and bob one gpt-4o-mini call of 150 + 50 (1000 tokens a day); on weekends only bob's
 * call (200 tokens). Today so far: one alice call of 500 + 100 (200 of the input written to the prompt
 * cache, priced here as plain input: only the figures read the column), one blocked bob call, and one
 * call of another organization that must not count.
 */
function seed(): LedgerRow[] {
  const rows: LedgerRow[] = [];
  const today = Date.UTC(2026, 10, 18);
  for (let d = today - 28 * DAY; d < today; d += DAY) {
    const weekday = new Date(d).getUTCDay();
    if (weekday !== 0 && weekday !== 6) rows.push(row(d + 9 * 3_600_000, 'alice', 350, 50), row(d + 15 * 3_600_000, 'alice', 350, 50));
    rows.push(row(d + 12 * 3_600_000, 'bob', 150, 50));
  }
  rows.push(row(today + 10 * 3_600_000, 'alice', 500, 100, { cacheWriteInputTokens: 200, cacheWrite1hInputTokens: 50 }));
  rows.push(row(today + 11 * 3_600_000, 'bob', 0, 0, { status: 429, decision: 'blocked', blockedBy: 'project:batch:daily', costUsd: 0 }));
  rows.push(row(today + 11 * 3_600_000, 'alice', 9999, 9999, { organization: 'other' }));
  return rows;
}

// Month to date: 1-17 Nov has 12 weekdays and 5 weekend days, plus today's 600 tokens.
const WEEKDAY_COST = 2 * ((350 * 2.5 + 50 * 10) / 1e6) + (150 * 0.15 + 50 * 0.6) / 1e6; // 0.0028025
const WEEKEND_COST = (150 * 0.15 + 50 * 0.6) / 1e6; // 0.0000525
const TODAY_COST = (500 * 2.5 + 100 * 10) / 1e6; // 0.00225
const MTD_TOKENS = 12 * 1000 + 5 * 200 + 600; // 13600
const MTD_COST = 12 * WEEKDAY_COST + 5 * WEEKEND_COST + TODAY_COST;
// Weekday averages over four weeks: 1000 tokens on weekdays, 200 on weekends. A quarter of today is left
// (a Wednesday), then 19-30 Nov: 8 weekdays and 4 weekend days.
const PROJECTED_TOKENS = MTD_TOKENS + 0.25 * 1000 + 8 * 1000 + 4 * 200; // 22650
const PROJECTED_COST = MTD_COST + 0.25 * WEEKDAY_COST + 8 * WEEKDAY_COST + 4 * WEEKEND_COST;

describe.each(LEDGER_KINDS)('dashboard from a seeded ledger: $kind', ({ place: makePlace }) => {
  const gw = useUsageGateway(config, { place: makePlace, seed, startMs: NOW });

  const get = (path: string, key?: string): Promise<Response> =>
    fetch(`${gw().url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

  it('needs the admin key', async () => {
    expect((await get('/api/tokens/dashboard?org=default')).status).toBe(401);
    expect((await get('/api/tokens/dashboard?org=default', 'wrong')).status).toBe(401);
    const unknown = await get('/api/tokens/dashboard?org=nope', ADMIN);
    expect(unknown.status).toBe(400);
  });

  it('matches the hand-computed figures', async () => {
    const res = await get('/api/tokens/dashboard?org=default', ADMIN);
    expect(res.status).toBe(200);
    const d = await res.json();
    // Money is reported to the nano-dollar; float sums may differ in the last digits.
    const close = (v: number) => expect.closeTo(v, 5);

    expect(d.current_usage.today).toEqual({ tokens: 600, input_tokens: 500, output_tokens: 100, cached_input_tokens: 0, cache_write_input_tokens: 200, cost_usd: close(TODAY_COST), requests: 1 });
    expect(d.current_usage.this_month).toEqual({ tokens: MTD_TOKENS, input_tokens: 12 * 850 + 5 * 150 + 500, output_tokens: 12 * 150 + 5 * 50 + 100, cached_input_tokens: 0, cache_write_input_tokens: 200, cost_usd: close(MTD_COST), requests: 12 * 3 + 5 + 1 });
    expect(d.current_usage.projected_monthly).toEqual({ tokens: PROJECTED_TOKENS, cost_usd: close(PROJECTED_COST), method: 'weekday_average' });

    expect(d.limits.daily).toEqual({ limit: 'org:default:daily', unit: 'tokens', max: 2000, used: 600, remaining: 1400, mode: 'enforce', resets_at: '2026-11-19T00:00:00.000Z' });
    expect(d.limits.monthly).toEqual({ limit: 'org:default:monthly', unit: 'tokens', max: 20000, used: MTD_TOKENS, remaining: 20000 - MTD_TOKENS, mode: 'enforce', resets_at: '2026-12-01T00:00:00.000Z' });
    expect(d.limits.utilization).toEqual({ daily: 0.3, monthly: 0.68, projected_monthly: 1.1325 });

    const web = { tokens: 24 * 400 + 600, input_tokens: 24 * 350 + 500, output_tokens: 24 * 50 + 100, cached_input_tokens: 0, cache_write_input_tokens: 200, cost_usd: close(24 * 0.001375 + TODAY_COST), requests: 25 };
    const batch = { tokens: 17 * 200, input_tokens: 17 * 150, output_tokens: 17 * 50, cached_input_tokens: 0, cache_write_input_tokens: 0, cost_usd: close(17 * WEEKEND_COST), requests: 17 };
    expect(d.breakdown.period).toBe('this_month');
    expect(d.breakdown.by_project).toEqual([{ project: 'web', ...web }, { project: 'batch', ...batch }]);
    expect(d.breakdown.by_model).toEqual([{ model: 'demo/gpt-4o', ...web }, { model: 'demo/gpt-4o-mini', ...batch }]);
    expect(d.breakdown.by_user).toEqual([{ user: 'alice', ...web }, { user: 'bob', ...batch }]);
    // To the nano-dollar: $0.0008925 is not rounded to $0.000893 (nor a few embedding calls to $0).
    expect(d.breakdown.by_project[1].cost_usd).toBe(0.0008925);

    // batch used 3400 of its 3500 monthly tokens (97%): the 0.8 rung warns. The month is projected over budget.
    expect(d.alerts).toEqual([
      { level: 'warning', kind: 'threshold', limit: 'project:batch:monthly', utilization: close(3400 / 3500), message: expect.stringContaining('97%') },
      { level: 'warning', kind: 'forecast', limit: 'org:default:monthly', utilization: 1.1325, message: 'At the usual usage of each weekday, default is projected to use 113% of its monthly budget by the end of the month.' },
    ]);

    // web averages 52 output tokens per call on gpt-4o; the route's fallback gpt-4o-mini costs 6% as much.
    const webOnMini = ((24 * 350 + 500) * 0.15 + (24 * 50 + 100) * 0.6) / 1e6;
    const savings = (24 * 0.001375 + TODAY_COST - webOnMini) * (PROJECTED_COST / MTD_COST);
    expect(d.recommendations).toEqual([
      {
        kind: 'smaller_model',
        project: 'web',
        model: 'demo/gpt-4o',
        suggested_model: 'demo/gpt-4o-mini',
        message: expect.stringContaining('averages 52 output tokens per call'),
        estimated_monthly_savings_usd: close(savings),
      },
    ]);

    // The burn-rate series behind the web page: four weeks and today, oldest first.
    expect(d.history).toHaveLength(29);
    expect(d.history[0]).toEqual({ date: '2026-10-21', tokens: 1000, cost_usd: close(WEEKDAY_COST), requests: 3 });
    expect(d.history[28]).toEqual({ date: '2026-11-18', tokens: 600, cost_usd: close(TODAY_COST), requests: 1 });
  });

  it('lists the costliest `top` entries of each breakdown, then one entry summing the rest, so they add up to the month', async () => {
    const full = await (await get('/api/tokens/dashboard?org=default', ADMIN)).json();
    expect(full.breakdown.top).toBe(20); // the default: two users, nothing folded
    expect(full.breakdown.by_user.map((e: { user: string }) => e.user)).toEqual(['alice', 'bob']);
    expect(full.breakdown.by_user.some((e: object) => 'others' in e)).toBe(false);

    const res = await get('/api/tokens/dashboard?org=default&top=1', ADMIN);
    expect(res.status).toBe(200);
    const d = await res.json();
    expect(d.breakdown.top).toBe(1);
    for (const [list, key, costliest, rest] of [
      ['by_user', 'user', 'alice', 'bob'],
      ['by_project', 'project', 'web', 'batch'],
      ['by_model', 'model', 'demo/gpt-4o', 'demo/gpt-4o-mini'],
    ] as const) {
      const entries = d.breakdown[list];
      const named = (name: string) => full.breakdown[list].find((e: Record<string, unknown>) => e[key] === name);
      expect(entries, list).toEqual([named(costliest), { ...named(rest), [key]: null, others: 1 }]);
      for (const figure of ['tokens', 'input_tokens', 'output_tokens', 'cache_write_input_tokens', 'requests', 'cost_usd'] as const) {
        const total = entries.reduce((s: number, e: Record<string, number>) => s + e[figure], 0);
        expect(total, `${list} ${figure}`).toBeCloseTo(d.current_usage.this_month[figure], 9);
      }
    }
  });

  it('refuses a `top` that is not a whole number from 1 to 1000, in OpenAI\'s error format', async () => {
    for (const top of ['0', '1001', '-3', '2.5', 'all', '']) {
      const res = await get(`/api/tokens/dashboard?org=default&top=${top}`, ADMIN);
      expect(res.status, top).toBe(400);
      expect(await res.json()).toEqual({ error: { message: expect.stringContaining('top must be a whole number from 1 to 1000'), type: 'invalid_request_error', param: null, code: 'invalid_request' } });
    }
    expect((await get('/api/tokens/dashboard?org=default&top=1000', ADMIN)).status).toBe(200);
  });

  it('answers for the only organization when `org` is left out, and names the known ones for an unknown `org`', async () => {
    const [named, unnamed] = await Promise.all([get('/api/tokens/dashboard?org=default', ADMIN), get('/api/tokens/dashboard', ADMIN)]);
    expect(unnamed.status).toBe(200);
    const figures = (d: { current_usage: unknown; limits: unknown }) => ({ usage: d.current_usage, limits: d.limits });
    expect(figures(await unnamed.json())).toEqual(figures(await named.json()));
    const unknown = await get('/api/tokens/dashboard?org=nope', ADMIN);
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error.message).toBe('Name a configured organization with ?org=<id> (known: default).');
  });

  it('says so when `org` or `top` is given more than once, rather than that the organization is unknown', async () => {
    for (const [query, name] of [['org=default&org=other', 'org'], ['org=default&top=5&top=5', 'top']]) {
      const res = await get(`/api/tokens/dashboard?${query}`, ADMIN);
      expect(res.status, query).toBe(400);
      expect((await res.json()).error.message, query).toBe(`Give ?${name}= once; it was given 2 times.`);
    }
  });

  it('serves the web dashboard page, which holds no data itself', async () => {
    const res = await get('/dashboard');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toContain('/api/tokens/dashboard');
    expect(html).not.toContain('alice'); // no figures or names: they come from the API, with the admin key
  });
});
