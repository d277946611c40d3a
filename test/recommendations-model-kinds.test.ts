// The dashboard's smaller-model tips must name a model that can serve the same calls. A route's
// `fallback` list may name any model of the route, embedding models included; a tip that moves chat calls
// to an embedding model (or embedding calls to a chat model) is no saving, it is a broken app.
import { describe, expect, it } from 'vitest';
import { loadPolicyFromTexts } from '../src/config/index.js';
import type { UsageGroup } from '../src/ledger/ledger.js';
import { PriceBook } from '../src/ledger/price-book.js';
import { recommend } from '../src/analytics/recommendations.js';

const policy = loadPolicyFromTexts([
  {
    file: 'tollgate.yaml',
    text: `
providers: {openai: {type: mock}}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o-mini, model: openai/gpt-4o-mini}
      - {model_id: nano, model: openai/gpt-5-nano}
    embedding_models:
      - {model_id: embed-large, model: openai/text-embedding-3-large}
      - {model_id: embed-small, model: openai/text-embedding-3-small}
    fallback: [embed-small, nano]
`,
  },
]);
const prices = new PriceBook(new Map());

/** 30 calls of this month on one model of route `main`, each with `input` tokens in and `output` out. */
function calls(modelId: string, model: string, input: number, output: number): UsageGroup {
  const n = 30;
  const [provider, upstream] = model.split('/');
  const costUsd = prices.cost(provider, upstream, { input: n * input, output: n * output, cachedInput: 0 });
  return {
    keys: { project: 'web', route: 'main', model_id: modelId, model },
    calls: n, served: n, blocked: 0, failed: 0, inputTokens: n * input, outputTokens: n * output, cachedInputTokens: 0, cacheWriteInputTokens: 0,
    costUsd, inputCostUsd: costUsd, outputCostUsd: 0, legacyInputTokens: 0, legacyOutputTokens: 0, estimatedTokens: 0,
  };
}

describe('smaller-model tips keep the kind of model', () => {
  it('never point chat calls to an embedding model of the route', () => {
    // gpt-4o-mini, $0.15 in / $0.60 out: text-embedding-3-small ($0.02, no output price) "costs" 12% as much.
    const tips = recommend([calls('gpt-4o-mini', 'openai/gpt-4o-mini', 1_000, 40)], policy, prices, 1);
    const suggested = tips.filter((t) => t.kind === 'smaller_model').map((t) => t.suggested_model);
    expect(suggested).not.toContain('openai/text-embedding-3-small');
    // The next fallback that can serve chat, gpt-5-nano ($0.05 / $0.40), is a third of the price: that one.
    expect(suggested).toEqual(['openai/gpt-5-nano']);
  });

  it("give embedding calls none: they have no answers to be short, and another model's vectors miss the index", () => {
    // text-embedding-3-large at $0.13 per million: every call "averages 0 output tokens", and the route's
    // fallbacks text-embedding-3-small ($0.02) and gpt-5-nano ($0.05 in) both read as less than half the price.
    const tips = recommend([calls('embed-large', 'openai/text-embedding-3-large', 1_000, 0)], policy, prices, 1);
    expect(tips.filter((t) => t.kind === 'smaller_model')).toEqual([]);
  });
});
