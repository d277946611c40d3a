// The dashboard of an organization with many users, from the same rows in a SQLite and a PostgreSQL
// ledger: the same costliest entries in the same order, the same "others" entry, and the entries of each
// breakdown add up to the month's totals on both (the PostgreSQL ledger reads them from its report index).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard, type Dashboard } from '../src/analytics/dashboard.js';
import type { Ledger, LedgerRow } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { PriceBook } from '../src/ledger/price-book.js';
import { load } from './helpers/config-texts.js';
import { LEDGER_KINDS, type LedgerPlace } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';

const NOW = Date.UTC(2026, 10, 18, 18);
const USERS = 400;
const TOP = 15;
const policy = load(`
server: {timezone: UTC}
providers: {demo: {type: mock}}
pricing: {"demo/m0": {input: 1, output: 2}, "demo/m1": {input: 3, output: 6}, "demo/m2": {input: 5, output: 10}}
routes: {main: {chat_models: [{model_id: m0, model: demo/m0}, {model_id: m1, model: demo/m1}, {model_id: m2, model: demo/m2}]}}
organizations: {acme: {monthly_budget: 1000000000}}
keys: [{id: k, key: tg-k, organization: acme}]
`);

/** 2,400 calls this month (and a few last month), 400 users in 6 projects on 3 models; some users cost the same. */
function rows(): LedgerRow[] {
  return Array.from({ length: USERS * 6 }, (_, i) => {
    const u = i % USERS;
    const m = i % 3;
    const input = 100 + ((u * 37) % 250);
    const output = (i * 13) % 90;
    return sampleRow({
      ts: NOW - (i % 5 === 0 ? 20 * 86_400_000 : (i % 400) * 3_600_000),
      requestId: `r-${i}`, organization: i % 10 === 9 ? 'globex' : 'acme', project: u % 6 === 5 ? null : `p${u % 6}`, user: `user-${u}`, keyId: 'k',
      route: 'main', modelId: `m${m}`, provider: 'demo', model: `m${m}`, decision: i % 17 === 0 ? 'blocked' : 'admitted',
      inputTokens: input, outputTokens: output, costUsd: ((m * 2 + 1) * (input + 2 * output)) / 1e6, inputCostUsd: ((m * 2 + 1) * input) / 1e6,
    });
  });
}

describe('dashboard breakdowns with many users, on both ledgers', () => {
  const made: Array<{ place: LedgerPlace; ledger: Ledger }> = [];
  const dashboards = new Map<string, Dashboard>();
  beforeAll(async () => {
    for (const { kind, place: makePlace } of LEDGER_KINDS) {
      const place = await makePlace();
      const ledger = await openLedger(place.url);
      made.push({ place, ledger });
      await ledger.append(rows());
      dashboards.set(kind, await buildDashboard(ledger, policy, new PriceBook(policy.pricing), 'acme', NOW, TOP));
    }
  });
  afterAll(async () => {
    for (const { place, ledger } of made) {
      await ledger.close();
      await place.drop();
    }
  });

  it('gives the same breakdowns, totals and history on SQLite and PostgreSQL', () => {
    const pick = (d: Dashboard): unknown => ({ usage: d.current_usage, breakdown: d.breakdown, history: d.history, limits: d.limits });
    expect(pick(dashboards.get('postgres')!)).toEqual(pick(dashboards.get('sqlite')!));
  });

  it.each(LEDGER_KINDS.map((k) => k.kind))('%s: lists the costliest users, folds the rest, and every breakdown adds up to the month', (kind) => {
    const d = dashboards.get(kind)!;
    const users = d.breakdown.by_user;
    expect(users).toHaveLength(TOP + 1);
    const monthUsers = new Set(rows().filter((r) => r.organization === 'acme' && r.ts >= Date.UTC(2026, 10, 1)).map((r) => r.user));
    expect(monthUsers.size).toBeGreaterThan(200);
    expect(users[TOP]).toMatchObject({ user: null, others: monthUsers.size - TOP });
    for (let i = 1; i < TOP; i++) expect(users[i - 1].cost_usd).toBeGreaterThanOrEqual(users[i].cost_usd);
    expect(users[TOP - 1].cost_usd).toBeGreaterThan(0);
    const month = d.current_usage.this_month;
    expect(month.requests).toBeGreaterThan(1000);
    for (const list of [d.breakdown.by_user, d.breakdown.by_project, d.breakdown.by_model] as Array<Array<{ tokens: number; requests: number; cost_usd: number }>>) {
      expect(list.reduce((s, e) => s + e.tokens, 0)).toBe(month.tokens);
      expect(list.reduce((s, e) => s + e.requests, 0)).toBe(month.requests);
      expect(list.reduce((s, e) => s + e.cost_usd, 0)).toBeCloseTo(month.cost_usd, 8);
    }
  });
});
