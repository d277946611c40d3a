// What the counter rebuild and the audit sum for every kind of limit follows what each row recorded when
// its call was admitted (organization, project, user, key, groups, route), not the key's current config:
// a key moved from project p and group g1 to q and g2, a removed key, a model no longer on its route.
// Before, the moved key's earlier rows were charged to q and g2, and the other two were left out (their
// project and groups handed a fresh budget after a restart). Both ledgers, the same figures.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { ledgerUsageByLimit } from '../src/ledger/limit-usage.js';
import { load } from './helpers/config-texts.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const NOW = Date.UTC(2026, 10, 18, 10, 30, 0);

// k1 is now in q and g2; its earlier rows say p and g1. u2's key `gone` is no longer configured.
const policy = load(`
server: {timezone: UTC}
providers: {demo: {type: mock}}
pricing: {"demo/cheap": {input: 1.00, output: 2.00}}
organization: {daily_cap: 1000000, monthly_budget: {max_cost_usd: 100}}
projects:
  p: {daily_limit: 100000}
  q: {daily_limit: 100000}
users:
  t1: {daily_limit: 100000}
groups:
  g1: {daily_limit: 100000}
  g2: {daily_limit: 100000}
routes:
  main:
    chat_models: [{model_id: cheap, model: demo/cheap}]
    token_limiting:
      scope: group
      input: {algorithm: fixed_window, window_size: 1 day, max_token: 100000}
      output: {algorithm: token_bucket, window_size: 1 hour, max_token: 36}
keys:
  - {id: k1, key: tg-k1, user: u1, tier: t1, project: q, groups: [g2]}
`);

function call(secondsAgo: number, input: number, output: number, over: Partial<LedgerRow>): LedgerRow {
  return sampleRow({
    ts: NOW - secondsAgo * 1000, organization: 'default', keyId: 'k1', user: 'u1', route: 'main', modelId: 'cheap', provider: 'demo', model: 'cheap',
    endpoint: 'chat', decision: 'admitted', status: 200, inputTokens: input, outputTokens: output, cachedInputTokens: 0, cacheWriteInputTokens: 0,
    cacheWrite1hInputTokens: 0, serviceTier: null, toolFeesUsd: 0, costUsd: (input + 2 * output) / 1e6, inputCostUsd: input / 1e6, ...over,
  });
}

const ROWS = [
  call(40, 100, 10, { project: 'p', groups: ['g1'] }), // k1 before it moved
  call(20, 200, 20, { project: 'q', groups: ['g2'] }), // k1 since
  call(30, 300, 30, { keyId: 'gone', user: 'u2', project: 'q', groups: ['g1'] }), // a key removed since
  // A model taken off the route since; a legacy row (no cost split), so the money limit prices its tokens.
  call(10, 400, 40, { project: 'q', groups: ['g2'], modelId: 'old', inputCostUsd: null }),
];

describe.each(LEDGER_KINDS)('limits summed where rows were recorded: $kind', ({ place: makePlace }) => {
  const { ledger } = useLedger({
    place: makePlace,
    seed: (l) => l.append(ROWS),
  });

  it('charges each row to its recorded project, user, groups and key, under the current limits', async () => {
    const usage = await ledgerUsageByLimit(ledger(), policy, NOW);
    expect(Object.fromEntries(usage.limits.map((l) => [l.limit.id, l.used]))).toEqual({
      'org:default:daily': 110 + 220 + 330 + 440,
      // µUSD: 120 + 240 + 360, and the legacy row's 400 + 40 tokens at $1/$2 per million.
      'org:default:monthly': 1200,
      'project:p:daily': 110,
      'project:q:daily': 220 + 330 + 440,
      // The ledger records the user, not the tier: u1's tier is its key's; u2 has no key left, no tier.
      'user:u1:daily': 110 + 220 + 440,
      'group:g1:daily': 110 + 330,
      'group:g2:daily': 220 + 440,
      'route:main:group:g1:input': 100 + 300,
      'route:main:group:g2:input': 200 + 400,
      // Token buckets replayed with their drain of 0.01 per second: 10, 0.1 drained, +30, 0.3 drained.
      'route:main:group:g1:output': expect.closeTo(39.6, 9),
      'route:main:group:g2:output': expect.closeTo(59.8, 9),
    });
    expect(usage.skippedCalls).toBe(0);
    // Only the pairs still configured go on /metrics.
    expect(usage.callers).toEqual([{ keyId: 'k1', model: 'main/cheap' }]);
  });
});
