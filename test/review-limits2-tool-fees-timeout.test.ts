// A call that offers per-call-billed server tools (web search) and that the gateway stopped waiting for
// (timeout_ms) goes on at the provider, searches included. Its reservation holds the fees of every search
// it may make (max_uses, max_tool_calls), but the timeout charged its tokens alone: the fees were given
// back, and a money limit let timed-out calls on until what the provider may bill for their searches was
// many times the limit. Both wires: Anthropic's web search on /v1/messages, OpenAI's on /v1/responses.
import { describe, expect, it } from 'vitest';
import { PriceBook } from '../src/ledger/price-book.js';
import { withBehindWireUpstream } from './helpers/behind-wire-upstream.js';
import { postUntilRefused } from './helpers/until-refused.js';

const LIMIT = 0.3;
const SEARCHES = 5;
/** USD per web search (list-prices.ts TOOL_CALL_PRICES: $10 per 1,000). */
const SEARCH_FEE = 0.01;

const cases = [
  {
    wire: 'anthropic',
    path: '/v1/messages',
    headers: { 'anthropic-version': '2023-06-01' },
    body: { model: 'haiku', max_tokens: 100, messages: [{ role: 'user', content: 'What changed in the tax rules this week?' }], tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: SEARCHES }] },
  },
  {
    wire: 'openai',
    path: '/v1/responses',
    headers: {},
    body: { model: 'mini', max_output_tokens: 100, input: 'What changed in the tax rules this week?', tools: [{ type: 'web_search' }], max_tool_calls: SEARCHES },
  },
] as const;

describe('timed-out calls with web search against a money limit', () => {
  it.each(cases)('$wire: are charged the searches they may make, so those stay within the limit', async (c) => {
    // The upstream never answers: every call times out.
    await withBehindWireUpstream(() => {}, (url) => `
providers:
  up: {type: ${c.wire}, base_url: "${url}", api_key: k, timeout_ms: 100}
pricing:
  "up/claude-haiku-4-5": {input: 1, output: 5}
  "up/gpt-4.1-mini": {input: 0.4, output: 1.6}
# The input search results bring in, reserved without showing in the body: small, so the fees tell.
enforcement: {stored_context_tokens: 1000}
projects: {p: {daily_limit: {max_cost_usd: ${LIMIT}}}}
routes:
  r:
    chat_models: [{model_id: haiku, model: up/claude-haiku-4-5}, {model_id: mini, model: up/gpt-4.1-mini}]
keys: [{id: a, key: tg-a, project: p}]
`, async (gateway) => {
      const statuses = await postUntilRefused(gateway.url, c.path, c.headers, c.body);
      const timedOut = gateway.calls.filter((r) => r.status === 504);
      expect(timedOut.length).toBeGreaterThan(0);
      expect(statuses).toContain(429);
      // What the provider may bill for their searches alone.
      expect(timedOut.length * SEARCHES * SEARCH_FEE).toBeLessThanOrEqual(LIMIT + 1e-12);
      const prices = new PriceBook(gateway.gateway.policy.pricing);
      for (const r of timedOut) expect(prices.cost('up', r.target.model.upstreamModel, r.usage)).toBeGreaterThanOrEqual(SEARCHES * SEARCH_FEE);
    });
  });
});
