// Failed calls charged what the provider produced (a stream cut part-way, a timed-out call charged its
// reservation) are ledger rows with decision `failed` AND tokens and cost. Every consumer of the ledger must
// count them alike: their tokens and cost everywhere, their call never as a served request. Checked here on
// one seeded month, on SQLite and on the real PostgreSQL, against figures worked out by hand: `tollgate usage`
// (totals, per-decision columns, cost), the dashboard (today, this month, breakdowns, limits, tips) and the
// counters the rebuild and the audit read from the ledger (fixed, sliding and token-bucket windows, money
// limits, a request limit). From a FinOps QA pass: the smaller-model tip divided the output of every call,
// failed ones included, by the served calls: 24 answers of 40 tokens and 6 cut streams of 1,000 read as
// "290 output tokens per call", over the 150 a tip needs, so the project got no tip.
import { describe, expect, it } from 'vitest';
import { buildDashboard } from '../src/analytics/dashboard.js';
import { loadPolicyFromTexts } from '../src/config/load-policy.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { ledgerUsageByLimit } from '../src/ledger/limit-usage.js';
import { PriceBook } from '../src/ledger/price-book.js';
import { usageReport, type UsageReport } from '../src/ledger/usage-report.js';
import { windowLengthMs } from '../src/limits/windows.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const NOW = Date.UTC(2026, 11, 10, 15);
// Every call a minute ago: the token buckets have drained one minute of their rate, nothing else differs.
const AT = NOW - 60_000;
// gpt-4o at $2.50 / $10 per million tokens; gpt-4o-mini at $0.15 / $0.60, 6% of it for any mix of tokens.
const usd = (input: number, output: number): { costUsd: number; inputCostUsd: number } => ({ costUsd: (input * 2.5 + output * 10) / 1e6, inputCostUsd: (input * 2.5) / 1e6 });

const policy = loadPolicyFromTexts([
  {
    file: 'tollgate.yaml',
    text: `
server: {timezone: UTC}
providers: {demo: {type: mock}}
pricing: {"demo/gpt-4o": {input: 2.5, output: 10}, "demo/gpt-4o-mini": {input: 0.15, output: 0.6}}
organization: {daily_cap: 1000000, monthly_budget: {max_cost_usd: 10}}
projects: {web: {daily_limit: {max_token: 1000000, algorithm: sliding_window}}}
users: {t: {rate_limit: 1000}}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
      - {model_id: mini, model: demo/gpt-4o-mini}
    fallback: [mini]
    token_limiting:
      input: {algorithm: token_bucket, window_size: 1 hour, max_token: 100000}
      output: {algorithm: sliding_window, window_size: 1 hour, max_cost_usd: 10}
keys: [{id: alice-laptop, key: tg-a, user: alice, project: web, tier: t}]
`,
  },
]);
const prices = new PriceBook(policy.pricing);

let n = 0;
const row = (over: Partial<LedgerRow>): LedgerRow =>
  sampleRow({
    ts: AT, requestId: `call-${n++}`, organization: 'default', project: 'web', user: 'alice', keyId: 'alice-laptop', groups: [], route: 'main', modelId: 'gpt-4o',
    provider: 'demo', model: 'gpt-4o', decision: 'admitted', status: 200, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: null,
    usageSource: 'provider', shadowBlocked: [], ...over,
  });
const times = (k: number, make: () => LedgerRow): LedgerRow[] => Array.from({ length: k }, make);

const SEED = (): LedgerRow[] => [
  // 24 short answers: 500 in, 40 out, $0.00165 each.
  ...times(24, () => row({ inputTokens: 500, outputTokens: 40, ...usd(500, 40) })),
  // 6 streams the provider cut after 1,000 tokens: charged them ($0.01125 each), counted by the gateway.
  ...times(6, () => row({ decision: 'failed', status: 502, streamEnd: 'upstream_failed', usageSource: 'estimated', inputTokens: 500, outputTokens: 1000, ...usd(500, 1000) })),
  // 3 calls the provider failed before producing anything, 4 refused by a limit: nothing charged.
  ...times(3, () => row({ decision: 'failed', status: 502, usageSource: 'none', inputTokens: 0, outputTokens: 0, costUsd: 0, inputCostUsd: 0 })),
  ...times(4, () => row({ decision: 'blocked', status: 429, blockedBy: 'org:default:daily', usageSource: 'none', inputTokens: 0, outputTokens: 0, costUsd: 0, inputCostUsd: 0, upstreamLatencyMs: null })),
];

// By hand.
const INPUT = 30 * 500; // 15,000
const OUTPUT = 24 * 40 + 6 * 1000; // 6,960
const COST = 24 * 0.00165 + 6 * 0.01125; // $0.1071
const OUTPUT_COST = (24 * 40 * 10 + 6 * 1000 * 10) / 1e6; // $0.0696
const TOTALS = { calls: 37, requests: 24, failed: 9, blocked: 4, inputTokens: INPUT, outputTokens: OUTPUT, totalTokens: INPUT + OUTPUT, estimatedTokens: 6 * 1500 };

const reports: Record<string, Record<string, UsageReport>> = {};
const dashboards: Record<string, Awaited<ReturnType<typeof buildDashboard>>> = {};
const REPORT_GROUPINGS = [[], ['decision'], ['project', 'model'], ['day'], ['user', 'day'], ['usage_source'], ['status']] as const;

describe.each(LEDGER_KINDS)('failed rows with tokens, on $kind', ({ kind, place }) => {
  const { ledger } = useLedger({ place, seed: (l) => l.append(SEED()) });

  it('tollgate usage: their tokens and cost in every total, their calls under failed, never requests', async () => {
    reports[kind] = {};
    for (const by of REPORT_GROUPINGS) {
      const report = await usageReport(ledger(), { sinceMs: Date.UTC(2026, 11, 1), untilMs: NOW + 1, by: [...by], timezone: 'UTC' });
      reports[kind][by.join(',')] = report;
      expect(report.totals, `--by ${by.join(',')}`).toMatchObject(TOTALS);
      expect(report.totals.costUsd).toBeCloseTo(COST, 9);
      // The rows add up to the totals, costs included.
      expect(report.rows.reduce((s, r) => s + r.costUsd, 0)).toBeCloseTo(report.totals.costUsd, 9);
    }
    const byDecision = Object.fromEntries(reports[kind].decision.rows.map((r) => [r.keys.decision, r]));
    expect(byDecision.failed).toMatchObject({ calls: 9, requests: 0, failed: 9, blocked: 0, inputTokens: 3000, outputTokens: 6000, estimatedTokens: 9000 });
    expect(byDecision.failed.costUsd).toBeCloseTo(6 * 0.01125, 9);
    expect(byDecision.blocked).toMatchObject({ calls: 4, requests: 0, blocked: 4, totalTokens: 0, costUsd: 0 });
    expect(byDecision.admitted).toMatchObject({ calls: 24, requests: 24, totalTokens: 24 * 540 });
  });

  it('the dashboard: their tokens and cost today, this month, in each breakdown and under limits; not their requests', async () => {
    const d = await buildDashboard(ledger(), policy, prices, 'default', NOW);
    dashboards[kind] = d;
    const month = { tokens: INPUT + OUTPUT, input_tokens: INPUT, output_tokens: OUTPUT, requests: 24 };
    expect(d.current_usage.today).toMatchObject(month);
    expect(d.current_usage.this_month).toMatchObject(month);
    expect(d.current_usage.this_month.cost_usd).toBeCloseTo(COST, 9);
    for (const entries of [d.breakdown.by_project, d.breakdown.by_model, d.breakdown.by_user]) {
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ ...month, cost_usd: d.current_usage.this_month.cost_usd });
    }
    expect(d.history.at(-1)).toMatchObject({ tokens: INPUT + OUTPUT, requests: 24 });
    expect(d.limits.daily).toMatchObject({ unit: 'tokens', used: INPUT + OUTPUT });
    expect(d.limits.monthly).toMatchObject({ unit: 'usd' });
    expect(d.limits.monthly!.used).toBeCloseTo(COST, 9);
  });

  it("the dashboard's smaller-model tip: answers average over served calls only, the saving counts every call billed", async () => {
    const d = await buildDashboard(ledger(), policy, prices, 'default', NOW);
    const tips = d.recommendations.filter((r) => r.kind === 'smaller_model');
    // (24 x 40 + 6 x 1000) / 24 = 290 before: over the 150 tokens a short answer is, so no tip at all.
    expect(tips).toHaveLength(1);
    expect(tips[0]).toMatchObject({ project: 'web', model: 'demo/gpt-4o', suggested_model: 'demo/gpt-4o-mini' });
    expect(tips[0].message).toContain('averages 40 output tokens per call on demo/gpt-4o (24 calls this month)');
    // The cut streams were billed too, and would have cost 6% as much on the smaller model.
    expect(tips[0].estimated_monthly_savings_usd).toBeCloseTo(d.current_usage.projected_monthly.cost_usd * 0.94, 6);
  });

  it('the counters the rebuild and the audit read: tokens and cost of failed rows in every algorithm, no request', async () => {
    const usage = await ledgerUsageByLimit(ledger(), policy, NOW);
    const used = Object.fromEntries(usage.limits.map((u) => [u.limit.id, u.used]));
    expect(used['org:default:daily']).toBe(INPUT + OUTPUT); // fixed window, tokens
    expect(used['org:default:monthly']).toBeCloseTo(COST * 1e6, 3); // fixed window, µUSD
    expect(used['project:web:daily']).toBe(INPUT + OUTPUT); // sliding window, tokens
    expect(used['user:alice:rate']).toBe(24); // sliding window, requests: served calls only
    expect(used['route:main:output']).toBeCloseTo(OUTPUT_COST * 1e6, 3); // sliding window, µUSD of output
    // Token bucket: 15,000 input tokens added a minute ago, drained since at 100,000 an hour.
    const inputBucket = usage.limits.find((u) => u.limit.id === 'route:main:input')!;
    expect(inputBucket.used).toBeCloseTo(INPUT - (100_000 * 60_000) / windowLengthMs(inputBucket.limit.item.window), 6);
  });
});

describe('SQLite and PostgreSQL', () => {
  it('print the same usage reports of failed rows', () => {
    expect(Object.keys(reports.sqlite ?? {})).toHaveLength(REPORT_GROUPINGS.length);
    expect(reports.postgres).toEqual(reports.sqlite);
  });

  it('build the same dashboard', () => {
    expect(dashboards.sqlite).toBeDefined();
    expect(dashboards.postgres).toEqual(dashboards.sqlite);
  });
});
