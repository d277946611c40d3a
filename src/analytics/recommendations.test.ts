import { describe, expect, it } from 'vitest';
import { loadPolicyFromTexts } from '../config/index.js';
import type { UsageGroup } from '../ledger/ledger.js';
import { PriceBook } from '../ledger/price-book.js';
import { recommend } from './recommendations.js';

const policy = loadPolicyFromTexts([
  { file: 'tollgate.yaml', text: 'providers: {openai: {type: mock}}\nroutes: {r: {chat_models: [{model_id: gpt-4o, model: openai/gpt-4o}]}}\n' },
]);
const prices = new PriceBook(new Map());

function group(costUsd: number): UsageGroup {
  return {
    keys: { project: 'web', route: 'r', model_id: 'gpt-4o', model: 'openai/gpt-4o' },
    calls: 22, served: 22, blocked: 0, failed: 0, inputTokens: 22 * 1000, outputTokens: 22 * 50, cachedInputTokens: 0, cacheWriteInputTokens: 0, costUsd,
    inputCostUsd: costUsd, outputCostUsd: 0, legacyInputTokens: 0, legacyOutputTokens: 0, estimatedTokens: 0,
  };
}

describe('smaller-model recommendations', () => {
  // Regression test from an audit: the saving subtracted the smaller model's list price from calls paid
  // at the priority tier, so it counted the tier's premium as saved too.
  it('save the list-price share of what the calls really cost, whatever tier they were billed at', () => {
    // gpt-4o $2.50 / $10 per million, gpt-4o-mini $0.15 / $0.60: the same tokens cost 6% as much.
    const standard = (22 * 1000 * 2.5 + 22 * 50 * 10) / 1e6;
    const mini = (22 * 1000 * 0.15 + 22 * 50 * 0.6) / 1e6;
    const [atList] = recommend([group(standard)], policy, prices, 1);
    expect(atList).toMatchObject({ kind: 'smaller_model', suggested_model: 'openai/gpt-4o-mini' });
    expect(atList.estimated_monthly_savings_usd).toBeCloseTo(standard - mini, 6);
    // Billed at priority (1.7x here): the mini model at priority would cost 6% of that, not its list price.
    const [atPriority] = recommend([group(standard * 1.7)], policy, prices, 2);
    expect(atPriority.estimated_monthly_savings_usd).toBeCloseTo(standard * 1.7 * (1 - mini / standard) * 2, 6);
  });

  // Regression test from a FinOps review: the message rounded the saving to cents, so a small one read "about $0 less".
  it('write the saving as the dashboard writes money: cents, or two significant digits under a cent', () => {
    const [small] = recommend([group(0.001)], policy, prices, 1);
    expect(small.estimated_monthly_savings_usd).toBe(0.00094);
    expect(small.message).toContain('which would cost about $0.00094 less per month.');
    const [large] = recommend([group(2000)], policy, prices, 1);
    expect(large.message).toContain('which would cost about $1,880.00 less per month.');
  });
});

describe('smaller models of the gpt-5.x line', () => {
  it('suggest gpt-5.4-mini for gpt-5.5 and gpt-5.4, and gpt-5.4-nano for gpt-5.4-mini, priced from the list', () => {
    for (const [model, smaller, ratio] of [['gpt-5.5', 'gpt-5.4-mini', 0.15], ['gpt-5.4', 'gpt-5.4-mini', 0.3], ['gpt-5.4-mini', 'gpt-5.4-nano', 0.2 / 0.75]] as const) {
      const routed = loadPolicyFromTexts([{ file: 'tollgate.yaml', text: `providers: {openai: {type: mock}}\nroutes: {r: {chat_models: [{model_id: m, model: openai/${model}}]}}\n` }]);
      // Input only (the output figure of each pair differs in ratio): the saving is input cost x (1 - ratio).
      const row: UsageGroup = { ...group(22), keys: { project: 'web', route: 'r', model_id: 'm', model: `openai/${model}` }, outputTokens: 0 };
      const [rec] = recommend([row], routed, prices, 1);
      expect(rec).toMatchObject({ kind: 'smaller_model', suggested_model: `openai/${smaller}` });
      expect(rec.estimated_monthly_savings_usd).toBeCloseTo(22 * (1 - ratio), 6);
    }
  });
});

describe('failed calls charged what the provider produced', () => {
  const failed = (over: Partial<UsageGroup>): UsageGroup => ({ ...group(0), served: 0, failed: 22, keys: { ...group(0).keys, decision: 'failed' }, ...over });

  // From a FinOps QA pass: a model whose only calls this month were streams the provider cut part-way was
  // billed for them, but counted $0 for want of a price, and got no `add_price` tip (groups without a served call were skipped).
  it('flag a model without a price whose only calls failed after using tokens', () => {
    const unpriced = { ...group(0).keys, model: 'openai/house-model', model_id: 'house' };
    expect(recommend([failed({ keys: { ...unpriced, decision: 'failed' } })], policy, prices, 1)).toMatchObject([{ kind: 'add_price', model: 'openai/house-model' }]);
    // Failed before any token: nothing was billed, nothing to flag.
    expect(recommend([failed({ keys: { ...unpriced, decision: 'failed' }, inputTokens: 0, outputTokens: 0 })], policy, prices, 1)).toEqual([]);
  });

  it("average answers over the served calls' output: a cut stream's output is no answer", () => {
    // 22 answers of 50 tokens, and 5 cut streams of 2,000: 50 per answer, not (1,100 + 10,000) / 22 = 505.
    const cut = failed({ calls: 5, failed: 5, inputTokens: 5 * 1000, outputTokens: 5 * 2000, costUsd: 0.1 });
    const [tip] = recommend([{ ...group(0.06), keys: { ...group(0).keys, decision: 'admitted' } }, cut], policy, prices, 1);
    expect(tip).toMatchObject({ kind: 'smaller_model' });
    expect(tip.message).toContain('averages 50 output tokens per call on openai/gpt-4o (22 calls this month)');
  });
});
