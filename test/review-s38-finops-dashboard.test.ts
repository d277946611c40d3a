// FinOps review of README "Usage ledger, dashboard and metrics": a real `tollgate serve` (the repo's dist/) on
// a PostgreSQL ledger, the `mock` provider, driven by the official openai client; the dashboard, /metrics and
// `tollgate usage` compared with figures computed by hand.
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../src/ledger/open-ledger.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { LEDGER_KINDS, type LedgerPlace } from './helpers/ledgers.js';
import { CLI, startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';
import { freeRedisPort as freePort } from './helpers/redis-servers.js';
import { sampleRow } from './helpers/sample-row.js';

const ADMIN = 's38-finops-admin';
const PRICE = { 'gpt-4o': { input: 2.5, output: 10 }, 'gpt-4o-mini': { input: 0.15, output: 0.6 } } as const;
const DAY = 86_400_000;
const MONTHLY_BUDGET = 100_000;
/** Seeded tokens of a past day by its UTC weekday: input 1000*(w+1), output 100*(w+1). */
const seededIn = (w: number): number => 1000 * (w + 1);
const seededOut = (w: number): number => 100 * (w + 1);
const cost = (model: keyof typeof PRICE, i: number, o: number): number => (i * PRICE[model].input + o * PRICE[model].output) / 1e6;

function config(ledger: string, port: number): string {
  return `
server:
  host: 127.0.0.1
  port: ${port}
  timezone: UTC
  admin_key: ${ADMIN}
storage:
  counters: memory
  ledger: "${ledger}"
providers:
  demo:
    type: mock
    latency_ms: 1
    output_tokens: 40
pricing:
  "demo/gpt-4o": {input: 2.50, output: 10.00}
  "demo/gpt-4o-mini": {input: 0.15, output: 0.60}
organization:
  monthly_budget: ${MONTHLY_BUDGET}
  daily_cap: 500000
projects:
  web:
    daily_limit: 200000
  batch:
    daily_limit: 50000
users:
  tier_std:
    daily_limit: 100000
    rate_limit: 1000
  tier_trial:
    daily_limit: 300
    rate_limit: 1000
routes:
  demo:
    chat_models:
      - model_id: gpt-4o
        model: demo/gpt-4o
      - model_id: gpt-4o-mini
        model: demo/gpt-4o-mini
keys:
  - id: alice
    key: tg-s38-alice
    user: alice
    tier: tier_std
    project: web
  - id: bob
    key: tg-s38-bob
    user: bob
    tier: tier_trial
    project: batch
`;
}

/** 28 full days before today (UTC), one call each at noon, by alice on gpt-4o. */
function seedRows(todayStart: number): LedgerRow[] {
  const rows: LedgerRow[] = [];
  for (let d = 28; d >= 1; d--) {
    const ts = todayStart - d * DAY + 12 * 3_600_000;
    const w = new Date(ts).getUTCDay();
    const i = seededIn(w);
    const o = seededOut(w);
    rows.push(
      sampleRow({
        ts,
        organization: 'default',
        project: 'web',
        user: 'alice',
        keyId: 'alice',
        groups: [],
        route: 'demo',
        modelId: 'gpt-4o',
        provider: 'demo',
        model: 'gpt-4o',
        stream: false,
        streamEnd: null,
        tags: {},
        decision: 'admitted',
        limits: [],
        shadowBlocked: [],
        inputTokens: i,
        outputTokens: o,
        cachedInputTokens: 0,
        cacheWriteInputTokens: 0,
        cacheWrite1hInputTokens: 0,
        reservedInput: i,
        reservedOutput: o,
        costUsd: cost('gpt-4o', i, o),
        inputCostUsd: (i * PRICE['gpt-4o'].input) / 1e6,
        serviceTier: null,
        providerResponseId: null,
      }),
    );
  }
  return rows;
}


function cli(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 15_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Expected {
  /** Tokens and cost of today's calls, as the client saw them. */
  today: { input: number; output: number; cost: number; served: number; calls: number; blocked: number; failed: number };
  perModel: Map<string, { tokens: number; cost: number }>;
}


// PostgreSQL only: the same checks passed on SQLite in the QA pass, and the SQLite ledger's dashboard and
// reports are covered by dashboard*.test.ts and usage-cli.test.ts (CI time).
describe.each(LEDGER_KINDS.filter((k) => k.kind === 'postgres'))('FinOps on a $kind ledger', ({ place: makePlace }) => {
  let place: LedgerPlace;
  let gw: RunningProcess;
  let file: string;
  let todayStart: number;
  const exp: Expected = { today: { input: 0, output: 0, cost: 0, served: 0, calls: 0, blocked: 0, failed: 0 }, perModel: new Map() };

  beforeAll(async () => {
    place = await makePlace();
    const now = Date.now();
    todayStart = now - (now % DAY);
    const ledger = await openLedger(place.url);
    await ledger.append(seedRows(todayStart));
    await ledger.close();
    file = writeConfig(config(place.url, await freePort())); // a port of its own: `audit --config` reads it
    gw = await startCli(['serve', '--config', file]);

    const alice = new OpenAI({ apiKey: 'tg-s38-alice', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const bob = new OpenAI({ apiKey: 'tg-s38-bob', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const note = (model: 'gpt-4o' | 'gpt-4o-mini', i: number, o: number): void => {
      exp.today.input += i;
      exp.today.output += o;
      exp.today.cost += cost(model, i, o);
      exp.today.served++;
      exp.today.calls++;
      const m = exp.perModel.get(model) ?? { tokens: 0, cost: 0 };
      m.tokens += i + o;
      m.cost += cost(model, i, o);
      exp.perModel.set(model, m);
    };
    for (const [model, n] of [['gpt-4o', 3], ['gpt-4o-mini', 2]] as const) {
      for (let k = 0; k < n; k++) {
        const r = await alice.chat.completions.create({ model, messages: [{ role: 'user', content: `Summarise quarter ${k} spend for finance` }], max_tokens: 200 });
        note(model, r.usage!.prompt_tokens, r.usage!.completion_tokens);
      }
    }
    // One streamed call with usage in its last chunk.
    const stream = await alice.chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Stream a forecast' }], max_tokens: 200 });
    let su: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) if (c.usage) su = c.usage;
    note('gpt-4o', su!.prompt_tokens, su!.completion_tokens);
    // bob (300 tokens a day) until his tier's daily limit refuses him.
    for (let k = 0; k < 12; k++) {
      try {
        const r = await bob.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'batch job' }], max_tokens: 60 });
        note('gpt-4o-mini', r.usage!.prompt_tokens, r.usage!.completion_tokens);
      } catch (err) {
        expect((err as { status?: number }).status).toBe(429);
        exp.today.calls++;
        exp.today.blocked++;
        break;
      }
    }
    expect(exp.today.blocked).toBe(1);
    // An unknown key: no row, a rejected request.
    await expect(new OpenAI({ apiKey: 'tg-nobody', baseURL: `${gw.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 401 });
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await place?.drop();
  });

  const dash = async (query = 'org=default', key: string | null = ADMIN): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${gw.url}/api/tokens/dashboard?${query}`, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });
    return { status: res.status, body: await res.json().catch(() => undefined) };
  };

  it('today and this_month are the calls made, tokens and USD at the pricing table, plus the seeded month', async () => {
    const { status, body } = await dash();
    expect(status).toBe(200);
    const t = exp.today;
    expect(body.current_usage.today).toMatchObject({ tokens: t.input + t.output, input_tokens: t.input, output_tokens: t.output, requests: t.served });
    expect(body.current_usage.today.cost_usd).toBeCloseTo(t.cost, 9);
    let monthIn = t.input;
    let monthOut = t.output;
    let monthCost = t.cost;
    for (let d = new Date(todayStart).getUTCDate() - 1; d >= 1; d--) {
      const w = new Date(todayStart - d * DAY).getUTCDay();
      monthIn += seededIn(w);
      monthOut += seededOut(w);
      monthCost += cost('gpt-4o', seededIn(w), seededOut(w));
    }
    expect(body.current_usage.this_month).toMatchObject({ tokens: monthIn + monthOut, input_tokens: monthIn, output_tokens: monthOut });
    expect(body.current_usage.this_month.cost_usd).toBeCloseTo(monthCost, 9);
    // Limits: the org's daily cap and monthly budget as their counters hold them.
    expect(body.limits.daily).toMatchObject({ unit: 'tokens', max: 500000, used: t.input + t.output, remaining: 500000 - t.input - t.output });
    expect(body.limits.monthly).toMatchObject({ unit: 'tokens', max: MONTHLY_BUDGET, used: monthIn + monthOut, remaining: MONTHLY_BUDGET - monthIn - monthOut });
    expect(body.limits.utilization.daily).toBeCloseTo((t.input + t.output) / 500000, 9);
    expect(body.limits.utilization.monthly).toBeCloseTo((monthIn + monthOut) / MONTHLY_BUDGET, 9);
    // Breakdowns add up to this_month, to the nano-dollar.
    for (const b of ['by_project', 'by_model', 'by_user'] as const) {
      const entries = body.breakdown[b] as Array<{ tokens: number; cost_usd: number }>;
      expect(entries.reduce((s, e) => s + e.tokens, 0)).toBe(monthIn + monthOut);
      expect(Math.round(entries.reduce((s, e) => s + e.cost_usd, 0) * 1e9)).toBe(Math.round(body.current_usage.this_month.cost_usd * 1e9));
    }
    const mini = body.breakdown.by_model.find((e: any) => String(e.model).endsWith('gpt-4o-mini'));
    expect(mini.tokens).toBe(exp.perModel.get('gpt-4o-mini')!.tokens);
    expect(mini.cost_usd).toBeCloseTo(exp.perModel.get('gpt-4o-mini')!.cost, 9);
    expect(body.history).toHaveLength(29);
  });

  it('projects the month by weekday average as the README describes, and raises the forecast alert', async () => {
    const { body } = await dash();
    const now = Date.parse(body.generated_at);
    const elapsed = (now - todayStart) / DAY;
    const todayW = new Date(todayStart).getUTCDay();
    const t = exp.today;
    let tokens = body.current_usage.this_month.tokens + (seededIn(todayW) + seededOut(todayW)) * (1 - elapsed);
    let usd = body.current_usage.this_month.cost_usd + cost('gpt-4o', seededIn(todayW), seededOut(todayW)) * (1 - elapsed);
    const month = new Date(todayStart).getUTCMonth();
    for (let d = todayStart + DAY; new Date(d).getUTCMonth() === month; d += DAY) {
      const w = new Date(d).getUTCDay();
      tokens += seededIn(w) + seededOut(w);
      usd += cost('gpt-4o', seededIn(w), seededOut(w));
    }
    expect(t.calls).toBeGreaterThan(0);
    expect(body.current_usage.projected_monthly.method).toBe('weekday_average');
    expect(body.current_usage.projected_monthly.tokens).toBeCloseTo(tokens, -1);
    expect(body.current_usage.projected_monthly.cost_usd).toBeCloseTo(usd, 5);
    // utilization is from the unrounded projection, the tokens shown whole.
    expect(body.limits.utilization.projected_monthly).toBeCloseTo(tokens / MONTHLY_BUDGET, 4);
    const forecast = body.alerts.find((a: any) => a.kind === 'forecast');
    if (tokens > MONTHLY_BUDGET) {
      expect(forecast).toMatchObject({ limit: 'org:default:monthly' });
      expect(forecast.utilization).toBeCloseTo(body.limits.utilization.projected_monthly, 6);
      expect(forecast.message).toMatch(/weekday/i);
    }
  });

  it('admin key and ?top are checked; top=1 folds the rest into one null entry with its count', async () => {
    expect((await dash('org=default', null)).status).toBe(401);
    expect((await dash('org=default', 'wrong')).status).toBe(401);
    for (const top of ['0', '1001', 'abc', '1.5', '-1', '']) expect((await dash(`org=default&top=${top}`)).status, `top=${top}`).toBe(400);
    const { status, body } = await dash('org=default&top=1');
    expect(status).toBe(200);
    expect(body.breakdown.top).toBe(1);
    expect(body.breakdown.by_user).toHaveLength(2);
    expect(body.breakdown.by_user[1]).toMatchObject({ user: null, others: 1 });
    expect(body.breakdown.by_user[0].user).toBe('alice');
    const { body: all } = await dash('org=default&top=1000');
    expect(all.breakdown.by_user.reduce((s: number, e: any) => s + e.tokens, 0)).toBe(body.current_usage.this_month.tokens);
  });

  it('/metrics counters equal today\'s ledger: tokens, cost, calls, limit hits, rejected requests', async () => {
    const f = families(await scrapeText(gw.url));
    const t = exp.today;
    expect(sum(f.get('tollgate_tokens_total'), { organization: 'default', type: 'input' })).toBe(t.input);
    expect(sum(f.get('tollgate_tokens_total'), { organization: 'default', type: 'output' })).toBe(t.output);
    expect(sum(f.get('tollgate_cost_usd_total'), { organization: 'default' })).toBeCloseTo(t.cost, 9);
    const calls = (f.get('tollgate_requests_total')?.metrics ?? []).filter((m) => m.labels?.model !== '').reduce((s, m) => s + Number(m.value), 0);
    expect(calls).toBe(t.calls);
    expect(sum(f.get('tollgate_requests_total'), { decision: 'blocked' })).toBe(t.blocked);
    expect(sum(f.get('tollgate_limit_hits_total'), { organization: 'default', mode: 'enforce' })).toBe(t.blocked);
    expect(sum(f.get('tollgate_rejected_requests_total'), { code: 'invalid_api_key' })).toBe(1);
    // The ledger's own rows of today agree.
    const r = cli(['usage', '--config', file, '--since', 'today', '--by', 'decision', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.totals).toMatchObject({ calls: t.calls, requests: t.served, blocked: t.blocked, input_tokens: t.input, output_tokens: t.output });
  });

  it('tollgate usage: json, csv and table agree on totals whatever the grouping (its flags and tollgate audit: usage-cli.test.ts)', async () => {
    const grand = exp.today.input + exp.today.output;
    const json = (by: string) => {
      const r = cli(['usage', '--config', file, '--since', 'today', '--by', by, '--format', 'json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    for (const by of ['project,model', 'user', 'day', 'usage_source', 'key,decision']) {
      const rep = json(by);
      expect(rep.totals.total_tokens, by).toBe(grand);
      expect(rep.totals.cost_usd, by).toBeCloseTo(exp.today.cost, 9);
      expect(rep.rows.reduce((s: number, x: any) => s + x.total_tokens, 0), by).toBe(grand);
      expect(Math.round(rep.rows.reduce((s: number, x: any) => s + x.cost_usd, 0) * 1e9), by).toBe(Math.round(rep.totals.cost_usd * 1e9));
    }
    const csv = cli(['usage', '--config', file, '--since', 'today', '--by', 'project,model', '--format', 'csv']);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    const head = lines[0].split(',');
    const ti = head.indexOf('total_tokens');
    expect(ti).toBeGreaterThan(-1);
    const body = lines.slice(1).map((l) => l.split(','));
    const dataRows = body.filter((c) => !/total/i.test(c[0]));
    expect(dataRows.reduce((s, c) => s + Number(c[ti]), 0)).toBe(grand);
    const table = cli(['usage', '--config', file, '--since', 'today', '--by', 'project,model']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/total/i);
    expect(table.stdout.replace(/,/g, '')).toContain(String(grand));
    // Month includes the seeded days: one row each.
    const m2 = cli(['usage', '--config', file, '--since', 'month', '--by', 'day', '--format', 'json']);
    expect(JSON.parse(m2.stdout).rows).toHaveLength(new Date(todayStart).getUTCDate());
  });

});
