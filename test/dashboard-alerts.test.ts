// Dashboard alerts cover every limit that applies within the organization, not only the organization's
// and projects' own: users' tier limits (daily and rate), groups, route input/output limits. Figures are
// worked out by hand from a seeded ledger; another organization's usage never counts.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { MAX_THRESHOLD_ALERTS } from '../src/analytics/dashboard.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

// Wednesday 18 November 2026, 18:30 UTC: the route's fixed one-hour windows started at 18:00.
const NOW = Date.UTC(2026, 10, 18, 18, 30);
const TODAY = Date.UTC(2026, 10, 18);
const H = 3_600_000;
const ADMIN = 'admin-secret';
// globex: 25 tier users between 80% and 99.2% of their daily limit, plus one over it.
const MANY = 25;

const config = (ledger: string): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organizations:
  acme: {daily_cap: 100000}
  globex: {daily_cap: 100000}
users:
  tier_basic: {daily_limit: 1000, rate_limit: 5}
groups:
  ml: {daily_limit: 4000}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
    token_limiting:
      scope: user
      input: {algorithm: fixed_window, window_size: 1 hour, max_token: 2000}
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 500}
keys:
  - {id: bob, key: tg-bob, user: bob, tier: tier_basic, groups: [ml], organization: acme}
  - {id: carol, key: tg-carol, user: carol, tier: tier_basic, groups: [ml], organization: acme}
  - {id: dave, key: tg-dave, organization: acme}
  - {id: erin, key: tg-erin, groups: [ml], organization: acme}
  - {id: zed, key: tg-zed, user: bob, tier: tier_basic, organization: globex}
${Array.from({ length: MANY }, (_, i) => `  - {id: z${i}, key: tg-z${i}, user: u${i}, tier: tier_basic, organization: globex}`).join('\n')}
`;

let seq = 0;
function row(ts: number, org: string, keyId: string, user: string, groups: string[], input: number, output: number): LedgerRow {
  return {
    ts, requestId: `seed-${seq++}`, organization: org, project: null, user, keyId, groups,
    route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', endpoint: 'chat', stream: false, streamEnd: null, tags: {}, status: 200, decision: 'admitted',
    blockedBy: null, limits: [], shadowBlocked: [], fallback: null, inputTokens: input, outputTokens: output, cachedInputTokens: 0,
    reservedInput: input, reservedOutput: output, costUsd: (input * 2.5 + output * 10) / 1e6, usageSource: 'provider', latencyMs: 5, upstreamLatencyMs: 4,
  };
}

function seed(): LedgerRow[] {
  const rows: LedgerRow[] = [];
  const acme = (ts: number, key: string, input: number, output: number): void => {
    // A key without a user (dave, erin) is its own user.
    const user = key;
    const groups = key === 'dave' ? [] : ['ml'];
    rows.push(row(ts, 'acme', key, user, groups, input, output));
  };
  // bob: yesterday's 1000 tokens do not count today; today 600 + 400 = 1000 of 1000 (100%).
  acme(TODAY - 4 * H, 'bob', 900, 100);
  acme(TODAY + 9 * H, 'bob', 500, 100);
  acme(TODAY + 17.5 * H, 'bob', 300, 100);
  // carol: 4 calls in the last minute (4 of 5 requests per minute, 80%); 4 x 60 = 240 tokens today.
  for (const s of [10, 20, 30, 40]) acme(NOW - 60_000 + s * 1000, 'carol', 50, 10);
  // dave (no tier, no group): this hour 1700 of 2000 input (85%) and 450 of 500 output (90%) on the route, per key.
  acme(TODAY + 18 * H + 10 * 60_000, 'dave', 1700, 450);
  // erin (no tier): 2200 tokens at noon. Group ml today: bob 1000 + carol 240 + erin 2200 = 3440 of 4000 (86%).
  acme(TODAY + 12 * H, 'erin', 1800, 400);
  // globex: its own user bob at 5000 of 1000 (never acme's bob), and u0..u24 at 800 + 8i tokens (80% .. 99.2%).
  rows.push(row(TODAY + 10 * H, 'globex', 'zed', 'bob', [], 1000, 0));
  rows.push(row(TODAY + 10.5 * H, 'globex', 'zed', 'bob', [], 4000, 0));
  for (let i = 0; i < MANY; i++) rows.push(row(TODAY + 11 * H + i * 1000, 'globex', `z${i}`, `u${i}`, [], 700 + 8 * i, 100));
  return rows;
}

describe.each(LEDGER_KINDS)('dashboard alerts on every applicable limit: $kind', ({ place: makePlace }) => {
  const gw = useUsageGateway(config, { place: makePlace, seed, startMs: NOW });

  const dashboard = async (org: string): Promise<{ alerts: Array<Record<string, unknown>>; alerts_omitted: number; limits: { utilization: unknown } }> => {
    const res = await fetch(`${gw().url}/api/tokens/dashboard?org=${org}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    return res.json();
  };

  it("alerts on users' tier, rate, group and route limits: critical first, then the most utilised", async () => {
    const d = await dashboard('acme');
    // acme today: 1000 + 240 + 2150 + 2200 = 5590 of 100000: no organization alert.
    expect(d.limits.utilization).toEqual({ daily: 0.0559, monthly: null, projected_monthly: null });
    expect(d.alerts).toEqual([
      { level: 'critical', kind: 'threshold', limit: 'user:bob:daily', utilization: 1, message: 'user:bob:daily has reached its limit (1000 tokens of 1000 tokens; action: block).' },
      { level: 'warning', kind: 'threshold', limit: 'route:main:key:dave:output', utilization: 0.9, message: 'route:main:key:dave:output is at 90% of its limit (450 tokens of 500 tokens; action: warn).' },
      { level: 'warning', kind: 'threshold', limit: 'group:ml:daily', utilization: 0.86, message: 'group:ml:daily is at 86% of its limit (3440 tokens of 4000 tokens; action: warn).' },
      { level: 'warning', kind: 'threshold', limit: 'route:main:key:dave:input', utilization: 0.85, message: 'route:main:key:dave:input is at 85% of its limit (1700 tokens of 2000 tokens; action: warn).' },
      { level: 'warning', kind: 'threshold', limit: 'user:carol:rate', utilization: 0.8, message: 'user:carol:rate is at 80% of its limit (4 requests of 5 requests; action: warn).' },
    ]);
    expect(d.alerts_omitted).toBe(0);
  });

  it(`keeps the ${MAX_THRESHOLD_ALERTS} most pressing alerts of a big organization and counts the rest`, async () => {
    const d = await dashboard('globex');
    expect(MAX_THRESHOLD_ALERTS).toBe(20);
    // 26 alerts: globex's bob (5000 of 1000, critical), then u24 (992 tokens) down to u6 (848); u5..u0 are left out.
    expect(d.alerts).toHaveLength(MAX_THRESHOLD_ALERTS);
    expect(d.alerts[0]).toMatchObject({ level: 'critical', limit: 'user:bob:daily', utilization: 5 });
    expect(d.alerts.slice(1).map((a) => a.limit)).toEqual(Array.from({ length: 19 }, (_, j) => `user:u${24 - j}:daily`));
    expect(d.alerts.slice(1).map((a) => a.utilization)).toEqual(Array.from({ length: 19 }, (_, j) => (800 + 8 * (24 - j)) / 1000));
    expect(d.alerts_omitted).toBe(6);
  });
});
