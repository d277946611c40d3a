// QA review (s38, web/alerts): README "Usage ledger, dashboard and metrics" — the alert ladder, shadow limits and
// recommendations on a live `tollgate serve` (SQLite ledger, the `mock` provider, admin key), driven by the official
// openai client until soft thresholds and limits are crossed. The gateway is the repo's dist/ unless
// S38_WEB_CLI names another build (a private one, `tsc --outDir`).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const ADMIN = 's38-web-alerts-admin';
const HTML_MODEL = 'demo/<img/src=x/onerror=window.__xss=1>';

const config = (ledger: string): string => `
server:
  host: 127.0.0.1
  port: 0
  timezone: UTC
  admin_key: ${ADMIN}
storage:
  counters: memory
  ledger: "sqlite:${ledger}"
providers:
  demo:
    type: mock
    latency_ms: 1
    output_tokens: 20
pricing:
  "demo/gpt-4o": {input: 2.50, output: 10.00}
  "demo/gpt-4o-mini": {input: 0.15, output: 0.60}
organization:
  monthly_budget: 10000000
  daily_cap: 100000
projects:
  web:
    daily_limit: 2000
  trial:
    daily_limit: {max_token: 300, mode: shadow}
  lab:
    daily_limit: 1000000
alerts:
  - threshold: 0.5
    action: warn
  - threshold: 0.8
    action: throttle
    reduction: 0.5
  - threshold: 1.0
    action: block
routes:
  demo:
    chat_models:
      - model_id: gpt-4o
        model: demo/gpt-4o
      - model_id: gpt-4o-mini
        model: demo/gpt-4o-mini
      - model_id: odd
        model: "${HTML_MODEL}"
keys:
  - {id: alice, key: tg-s38w-alice, user: alice, project: web}
  - {id: carol, key: tg-s38w-carol, user: carol, project: trial}
  - {id: bob, key: tg-s38w-bob, user: bob, project: lab}
`;

interface Alert { level: string; kind: string; limit: string; utilization: number; message: string }
interface Dash { alerts: Alert[]; alerts_omitted: number; recommendations: Array<{ kind: string; project: string | null; model: string; suggested_model?: string; message: string; estimated_monthly_savings_usd?: number }> }

describe('alert ladder, shadow limits and recommendations on a live gateway', () => {
  let gateway: RunningProcess;
  let URL_ = '';
  const client = (key: string): OpenAI => new OpenAI({ apiKey: key, baseURL: `${URL_}/v1`, maxRetries: 0 });
  const call = (key: string, model = 'gpt-4o') => client(key).chat.completions.create({ model, messages: [{ role: 'user', content: 'hello there friend' }], max_tokens: 30 }).withResponse();
  const dash = async (): Promise<Dash> => {
    const res = await fetch(`${URL_}/api/tokens/dashboard`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    return res.json() as Promise<Dash>;
  };
  const alertOf = (d: Dash, limit: string): Alert | undefined => d.alerts.find((a) => a.limit === limit && a.kind === 'threshold');

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 's38-web-alerts-'));
    const file = writeConfig(config(path.join(dir, 'ledger.db')));
    gateway = await startCli(['serve', '--config', file], { TOLLGATE_LOG_LEVEL: 'info' });
    URL_ = gateway.url;
  }, 20_000);
  afterAll(() => {
    void gateway?.stop();
  });

  it('climbs the ladder: warn at 50%, throttle (critical) at 80%, block once spent; warnings only in the dashboard', async () => {
    // 30 tokens a call (10 in, 20 out): 34 calls are 1020 of project web's 2000.
    for (let k = 0; k < 34; k++) await call('tg-s38w-alice');
    let d = await dash();
    expect(alertOf(d, 'project:web:daily')).toEqual({
      level: 'warning', kind: 'threshold', limit: 'project:web:daily', utilization: 0.51,
      message: 'project:web:daily is at 51% of its limit (1020 tokens of 2000 tokens; action: warn).',
    });
    // The organization's daily cap (100000) is far off: no alert for it.
    expect(alertOf(d, 'org:default:daily')).toBeUndefined();

    // 54 calls: 1620 of 2000, 81%: the throttle rung. Calls are still served, and say nothing of it.
    let last;
    for (let k = 34; k < 54; k++) last = await call('tg-s38w-alice');
    expect(last!.response.status).toBe(200);
    const names = [...last!.response.headers.keys()];
    expect(names.filter((n) => /alert|warn|throttl/i.test(n))).toEqual([]);
    d = await dash();
    expect(alertOf(d, 'project:web:daily')).toMatchObject({ level: 'critical', utilization: 0.81, message: 'project:web:daily is at 81% of its limit (1620 tokens of 2000 tokens; action: throttle).' });

    // Up to the limit: the enforced limit refuses, and the alert says it has reached it.
    let refused: { status?: number; headers?: Headers } | undefined;
    let lastServed: number | undefined;
    for (let k = 0; k < 40 && !refused; k++) {
      await call('tg-s38w-alice').then((r) => (lastServed = r.data.usage!.completion_tokens), (e) => (refused = e));
    }
    expect(refused?.status).toBe(429);
    // The call at 1980 of 2000 was admitted, its max_tokens clamped to the 10 left (not refused).
    expect(lastServed).toBe(10);
    expect(refused?.headers?.get('x-tollgate-limit')).toBe('project:web:daily');
    d = await dash();
    expect(alertOf(d, 'project:web:daily')).toMatchObject({ level: 'critical', utilization: 1, message: 'project:web:daily has reached its limit (2000 tokens of 2000 tokens; action: block).' });
    // Critical first.
    expect(d.alerts[0].limit).toBe('project:web:daily');
    // No alert is logged: the ladder's only outlet is the dashboard (README Status: notifications not sent yet).
    expect(gateway.output()).not.toMatch(/project:web:daily/);
  }, 30_000);

  // x-tollgate-shadow-limit of carol's calls, in order.
  const seen: Array<string | null> = [];
  it('a shadow limit past its maximum is flagged on the call and reported, never enforced', async () => {
    // carol's project counts 300 tokens a day in shadow mode: the 11th call (330) would have been refused.
    for (let k = 0; k < 12; k++) {
      const r = await call('tg-s38w-carol');
      expect(r.response.status).toBe(200);
      seen.push(r.response.headers.get('x-tollgate-shadow-limit'));
    }
    expect(seen.slice(0, 9)).toEqual(Array(9).fill(null));
    expect(seen.slice(10)).toEqual(['project:trial:daily', 'project:trial:daily']);
    const a = alertOf(await dash(), 'project:trial:daily');
    expect(a?.message).toBe('project:trial:daily has reached its limit (360 tokens of 300 tokens; action: block). Shadow mode: reported, never blocks.');
    expect(a?.utilization).toBe(1.2);
  }, 20_000);

  // README "a call that a shadow limit would have refused carries x-tollgate-shadow-limit". The 10th call (270 of
  // 300 used, 10 input, max_tokens 30) is one the same limit enforced admits, its max_tokens clamped to the 20 left
  // (project web above was admitted that way at 1980 of 2000). It was flagged: a shadow item was flagged whenever
  // the full max_tokens did not fit, clamping ignored (src/limits/admission.ts and RESERVE_LUA; a QA pass, session 38).
  it('a shadow limit flags only calls the enforced limit would refuse, not those it would clamp', () => {
    expect(seen).toHaveLength(12);
    expect(seen[9]).toBeNull();
  });

  it('recommends the smaller model from 20 short-answer calls, and flags an unpriced model (its name as given)', async () => {
    // bob's project lab: 19 short calls on gpt-4o are not enough for a tip; the 20th is.
    for (let k = 0; k < 19; k++) await call('tg-s38w-bob');
    const before = (await dash()).recommendations.filter((r) => r.project === 'lab');
    expect(before).toEqual([]);
    await call('tg-s38w-bob');
    const d = await dash();
    const lab = d.recommendations.find((r) => r.project === 'lab');
    expect(lab).toMatchObject({ kind: 'smaller_model', model: 'demo/gpt-4o', suggested_model: 'demo/gpt-4o-mini' });
    expect(lab!.message).toMatch(/^Project lab averages 20 output tokens per call on demo\/gpt-4o \(20 calls this month\)\. Short answers like these are usually fine on demo\/gpt-4o-mini, which would cost about \$[0-9.,]+ less per month\.$/);
    expect(lab!.estimated_monthly_savings_usd).toBeGreaterThan(0);

    await call('tg-s38w-bob', 'odd');
    const unpriced = (await dash()).recommendations.find((r) => r.kind === 'add_price');
    expect(unpriced).toEqual({ kind: 'add_price', project: null, model: HTML_MODEL, message: `Calls to ${HTML_MODEL} have no price, so they count as $0 in reports. Add it under \`pricing\`.` });
  }, 20_000);
});
