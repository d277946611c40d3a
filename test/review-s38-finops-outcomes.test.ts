// FinOps review, part 2: calls that fail, are cut or carry no usage, as the dashboard, /metrics and
// `tollgate usage` count them; burn rate and limit gauges by hand; `tollgate audit` on drift; a gateway
// without an admin key. A real `tollgate serve` (private build, else the repo's dist/) on SQLite.
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../src/ledger/open-ledger.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { CLI, startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';
import { freeRedisPort as freePort } from './helpers/redis-servers.js';
import { sampleRow } from './helpers/sample-row.js';

const ADMIN = 's38-finops-admin2';
const cost = (i: number, o: number): number => (i * 2.5 + o * 10) / 1e6;

const config = (ledger: string, port: number, admin = true): string => `
server:
  host: 127.0.0.1
  port: ${port}
  timezone: UTC
${admin ? `  admin_key: ${ADMIN}\n` : ''}storage:
  counters: memory
  ledger: "${ledger}"
providers:
  demo:
    type: mock
    latency_ms: 1
    output_tokens: 40
pricing:
  "demo/gpt-4o": {input: 2.50, output: 10.00}
organization:
  monthly_budget: 10000000
  daily_cap: 50000
routes:
  demo:
    chat_models:
      - model_id: gpt-4o
        model: demo/gpt-4o
keys:
  - id: carol
    key: tg-s38-carol
    user: carol
    project: ops
    groups: [finance, ops-team]
  - id: dave
    key: tg-s38-dave
    user: dave
projects:
  ops:
    daily_limit: 40000
`;


const cli = (args: string[]): { code: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 15_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('FinOps: failed, cut and unreported calls; burn rate; audit drift', () => {
  let place: LedgerPlace;
  let gw: RunningProcess;
  let file: string;
  let startedAt: number;
  const ok = { input: 0, output: 0 };
  let tagged = 0;
  beforeAll(async () => {
    place = sqlitePlace();
    file = writeConfig(config(place.url, await freePort())); // a port of its own: `audit --config` reads it
    startedAt = Date.now();
    gw = await startCli(['serve', '--config', file]);
    const carol = new OpenAI({ apiKey: 'tg-s38-carol', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const dave = new OpenAI({ apiKey: 'tg-s38-dave', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    for (let k = 0; k < 2; k++) {
      const r = await carol.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'reconcile invoices' }], max_tokens: 100 });
      ok.input += r.usage!.prompt_tokens;
      ok.output += r.usage!.completion_tokens;
    }
    const r = await dave.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }], max_tokens: 100 });
    ok.input += r.usage!.prompt_tokens;
    ok.output += r.usage!.completion_tokens;
    // A provider error (no retries), a stream cut part-way, an answer without usage.
    await expect(carol.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'fail' }], max_tokens: 100, mock_error_status: 500 } as never)).rejects.toMatchObject({ status: 500 });
    const cut = await carol.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'cut' }], max_tokens: 100, mock_abort_after_chunks: 3 } as never);
    await expect((async () => {
      for await (const _ of cut as unknown as AsyncIterable<unknown>) void _;
    })()).rejects.toBeTruthy();
    await carol.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'no usage' }], max_tokens: 100, mock_omit_usage: true } as never);
    // A tag whose value holds a comma and a quote, for the CSV.
    const t = await carol.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'tagged' }], max_tokens: 100, metadata: { feature: 'search, "rerank"' } });
    tagged = t.usage!.total_tokens;
  }, 40_000);
  afterAll(async () => {
    await gw?.stop();
    await place?.drop();
  });

  it('usage counts failed and estimated calls, and the dashboard/metrics agree with the ledger', async () => {
    // Let the cut stream's row land.
    await new Promise((r) => setTimeout(r, 800));
    const u = cli(['usage', '--config', file, '--since', 'today', '--by', 'usage_source,decision', '--format', 'json']);
    expect(u.code, u.stderr).toBe(0);
    const rep = JSON.parse(u.stdout);
    expect(rep.totals).toMatchObject({ calls: 7, requests: 5 });
    expect(rep.totals.failed).toBe(2);
    expect(rep.totals.estimated_tokens).toBeGreaterThan(0);
    const d = await (await fetch(`${gw.url}/api/tokens/dashboard?org=default`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    expect(d.current_usage.today.tokens).toBe(rep.totals.total_tokens);
    expect(d.current_usage.today.cost_usd).toBeCloseTo(rep.totals.cost_usd, 9);
    expect(d.current_usage.today.requests).toBe(rep.totals.requests);
    const f = families(await scrapeText(gw.url));
    expect(sum(f.get('tollgate_tokens_total'), { organization: 'default' })).toBe(rep.totals.total_tokens);
    expect(sum(f.get('tollgate_cost_usd_total'), { organization: 'default' })).toBeCloseTo(rep.totals.cost_usd, 9);
    expect(sum(f.get('tollgate_requests_total'), { decision: 'failed' })).toBe(rep.totals.failed);
    // Group: carol's calls under finance, dave's under an empty group; totals once.
    const g = JSON.parse(cli(['usage', '--config', file, '--since', 'today', '--by', 'group', '--format', 'json']).stdout);
    expect(g.totals.total_tokens).toBe(rep.totals.total_tokens);
    // A key in two groups is in both rows, in the totals once; a key in none: an empty group.
    const byGroup = new Map<string, any>(g.rows.map((x: any) => [x.group ?? '', x]));
    expect([...byGroup.keys()].sort()).toEqual(['', 'finance', 'ops-team']);
    expect(byGroup.get('finance').total_tokens).toBe(byGroup.get('ops-team').total_tokens);
    expect(byGroup.get('finance').total_tokens + byGroup.get('').total_tokens).toBe(g.totals.total_tokens);
  });

  it('csv quotes a tag value holding a comma and a quote, so the columns stay in place', async () => {
    const r = cli(['usage', '--config', file, '--since', 'today', '--by', 'tag:feature', '--format', 'csv']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"search, ""rerank"""');
    const t = cli(['usage', '--config', file, '--since', 'today', '--by', 'tag:feature', '--format', 'json']);
    const row = JSON.parse(t.stdout).rows.find((x: any) => JSON.stringify(x).includes('rerank'));
    expect(row.total_tokens).toBe(tagged);
  });

  it('burn rate over at least one minute, and limit gauges, by hand', async () => {
    const f = families(await scrapeText(gw.url));
    const tokens = sum(f.get('tollgate_tokens_total'), { organization: 'default' });
    const usd = sum(f.get('tollgate_cost_usd_total'), { organization: 'default' });
    const up = (Date.now() - startedAt) / 60_000;
    expect(up).toBeLessThan(1);
    // Under a minute since start: divided by one minute (it "reads low in proportion").
    expect(sum(f.get('tollgate_burn_rate_tokens_per_minute'), { organization: 'default' })).toBeCloseTo(tokens, 6);
    expect(sum(f.get('tollgate_burn_rate_usd_per_hour'), { organization: 'default' })).toBeCloseTo(usd * 60, 6);
    const util = f.get('tollgate_limit_utilization')!.metrics.find((m) => m.labels?.limit === 'org:default:daily');
    expect(util, JSON.stringify(f.get('tollgate_limit_utilization')?.metrics)).toBeDefined();
    expect(Number(util!.value)).toBeCloseTo(tokens / 50000, 9);
    const rem = f.get('tollgate_limit_remaining_tokens')!.metrics.find((m) => m.labels?.limit === 'org:default:daily');
    expect(Number(rem!.value)).toBe(50000 - tokens);
  });

  it('tollgate audit exits 2 when the ledger holds usage the counters miss', async () => {
    const before = cli(['audit', '--config', file, '--admin-key', ADMIN]);
    expect(before.code, before.stdout + before.stderr).toBe(0);
    const ledger = await openLedger(place.url);
    await ledger.append([sampleRow({ ts: Date.now(), organization: 'default', project: 'ops', user: 'carol', keyId: 'carol', groups: ['finance'], route: 'demo', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', decision: 'admitted', inputTokens: 5000, outputTokens: 0, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, costUsd: cost(5000, 0), inputCostUsd: cost(5000, 0), serviceTier: null })]);
    await ledger.close();
    const after = cli(['audit', '--config', file, '--admin-key', ADMIN, '--format', 'json']);
    expect(after.code).toBe(2);
  });

  it('403 from the admin API on a gateway without an admin key', async () => {
    const p2 = sqlitePlace();
    const g2 = await startCli(['serve', '--config', writeConfig(config(p2.url, await freePort(), false))]);
    try {
      const res = await fetch(`${g2.url}/api/tokens/dashboard?org=default`, { headers: { authorization: 'Bearer anything' } });
      expect(res.status).toBe(403);
      expect((await fetch(`${g2.url}/api/audit`, { headers: { authorization: 'Bearer anything' } })).status).toBe(403);
    } finally {
      await g2.stop();
      await p2.drop();
    }
  });
});
