// The dashboard's smaller-model tips for a project that reaches one model under two names (two model ids
// of a route, or two routes). The tips were worked out per (route, model id): 60 short calls to gpt-4o,
// 30 as `gpt-4o` and 30 as `smart`, gave two identical tips, each saying "30 calls this month" and each
// half the savings; 30 calls split 15 / 15 gave none (each part under the 20 calls a tip needs).
import { describe, expect, it } from 'vitest';
import { buildDashboard } from '../src/analytics/dashboard.js';
import { loadPolicyFromTexts } from '../src/config/load-policy.js';
import { PriceBook } from '../src/ledger/price-book.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const NOW = Date.UTC(2026, 11, 10, 15);
const HOUR = 3_600_000;
// gpt-4o at $2.50 / $10 per million tokens, its fallback gpt-4o-mini at $0.15 / $0.60.
const CALL_USD = (500 * 2.5 + 40 * 10) / 1e6;
const MINI_SHARE = (500 * 0.15 + 40 * 0.6) / (500 * 2.5 + 40 * 10);

const policy = (url: string) =>
  loadPolicyFromTexts([
    {
      file: 'tollgate.yaml',
      text: `
server: {timezone: UTC}
storage: {ledger: "${url}"}
providers: {demo: {type: mock}}
pricing: {"demo/gpt-4o": {input: 2.5, output: 10}, "demo/gpt-4o-mini": {input: 0.15, output: 0.6}}
projects: {web: {daily_limit: 100000000}}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
      - {model_id: smart, model: demo/gpt-4o}
      - {model_id: mini, model: demo/gpt-4o-mini}
    fallback: [mini]
  other:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
      - {model_id: mini, model: demo/gpt-4o-mini}
    fallback: [mini]
keys: [{id: alice-laptop, key: tg-a, user: alice, project: web}]
`,
    },
  ]);

/** `n` short gpt-4o calls of project web, one an hour back from now, through (route, model id) pairs in turn. */
function calls(n: number, names: Array<[string, string]>) {
  return Array.from({ length: n }, (_, i) =>
    sampleRow({
      ts: NOW - (i + 1) * HOUR, requestId: `call-${i}`, organization: 'default', project: 'web', user: 'alice', keyId: 'alice-laptop', provider: 'demo', model: 'gpt-4o',
      route: names[i % names.length][0], modelId: names[i % names.length][1], decision: 'admitted', inputTokens: 500, outputTokens: 40, cachedInputTokens: 0, cacheWriteInputTokens: 0,
      cacheWrite1hInputTokens: 0, serviceTier: null, costUsd: CALL_USD, inputCostUsd: (500 * 2.5) / 1e6,
    }),
  );
}

describe('smaller-model tips for one model reached under several names', () => {
  const { ledger, place } = useLedger({ each: true });

  const tips = async () => {
    const d = await buildDashboard(ledger(), policy(place().url), new PriceBook(policy(place().url).pricing), 'default', NOW);
    return { d, tips: d.recommendations.filter((r) => r.kind === 'smaller_model') };
  };

  it('gives one tip with all the calls and all the savings, for two model ids of a route', async () => {
    await ledger().append(calls(60, [['main', 'gpt-4o'], ['main', 'smart']]));
    const { d, tips: found } = await tips();
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ project: 'web', model: 'demo/gpt-4o', suggested_model: 'demo/gpt-4o-mini' });
    expect(found[0].message).toContain('averages 40 output tokens per call on demo/gpt-4o (60 calls this month)');
    // Every call of the month could move: the saving is the projected month's cost less the mini's share.
    expect(found[0].estimated_monthly_savings_usd).toBeCloseTo(d.current_usage.projected_monthly.cost_usd * (1 - MINI_SHARE), 5);
  });

  it('gives a tip for 30 calls split 15 / 15 between two routes', async () => {
    await ledger().append(calls(30, [['main', 'gpt-4o'], ['other', 'gpt-4o']]));
    const { tips: found } = await tips();
    expect(found).toHaveLength(1);
    expect(found[0].message).toContain('(30 calls this month)');
  });
});
