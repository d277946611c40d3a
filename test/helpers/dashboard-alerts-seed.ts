// A ledger seeded for the dashboard's alerts: organization acme with a few users near their limits
// (tiers, a group, route input/output windows), globex with more alerts than the dashboard shows, and
// initech with costs from a fraction of a cent to a thousand dollars and a money limit nearly spent.
// Shared by the dashboard-alerts API test and the web page's browser test.
import type { LedgerRow } from '../../src/ledger/ledger.js';

// Wednesday 18 November 2026, 18:30 UTC: the route's fixed one-hour windows started at 18:00.
export const NOW = Date.UTC(2026, 10, 18, 18, 30);
const TODAY = Date.UTC(2026, 10, 18);
const H = 3_600_000;
export const ADMIN = 'admin-secret';
// globex: 25 tier users between 80% and 99.2% of their daily limit, plus one over it.
const MANY = 25;

export const config = (ledger: string): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organizations:
  acme: {daily_cap: 100000}
  globex: {daily_cap: 100000}
  initech: {daily_cap: {max_cost_usd: 0.01}}
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
  - {id: big, key: tg-big, user: big, organization: initech}
  - {id: pat, key: tg-pat, user: pat, organization: initech}
  - {id: tiny, key: tg-tiny, user: tiny, organization: initech}
${Array.from({ length: MANY }, (_, i) => `  - {id: z${i}, key: tg-z${i}, user: u${i}, tier: tier_basic, organization: globex}`).join('\n')}
`;

let seq = 0;
function row(ts: number, org: string, keyId: string, user: string, groups: string[], input: number, output: number): LedgerRow {
  return {
    ts, requestId: `seed-${seq++}`, organization: org, project: null, user, keyId, groups,
    route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', endpoint: 'chat', stream: false, streamEnd: null, tags: {}, status: 200, decision: 'admitted',
    blockedBy: null, limits: [], shadowBlocked: [], fallback: null, inputTokens: input, outputTokens: output, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0,
    reservedInput: input, reservedOutput: output, costUsd: (input * 2.5 + output * 10) / 1e6, inputCostUsd: (input * 2.5) / 1e6, toolFeesUsd: 0, serviceTier: null, usageSource: 'provider', latencyMs: 5, upstreamLatencyMs: 4, providerResponseId: null, inferenceGeo: null, audioInputTokens: 0, audioOutputTokens: 0,
  };
}

export function seed(): LedgerRow[] {
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
  // initech: big spent $500 + $734.567 = $1,234.567 on 2 November, tiny $0.0000025 (one input token) on the 3rd,
  // pat today $0.0000075 + $0.00999 = $0.0099975 of the organization's $0.01 a day (99.975%).
  rows.push(row(Date.UTC(2026, 10, 2, 12), 'initech', 'big', 'big', [], 200_000_000, 73_456_700));
  rows.push(row(Date.UTC(2026, 10, 3, 12), 'initech', 'tiny', 'tiny', [], 1, 0));
  rows.push(row(TODAY + 9 * H, 'initech', 'pat', 'pat', [], 3, 999));
  return rows;
}
