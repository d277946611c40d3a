// A /v1/messages call with Anthropic's server-side fallbacks that the gateway stopped waiting for
// (timeout_ms) goes on at the provider, each attempt billed at its own model's price. It is reserved at the
// priciest attempt's rates, but the timeout charged its tokens at the requested model's price: a cheap
// model falling back to a dear one (Haiku 4.5 to Opus 4.8, 5x) was charged a fifth of what the provider may
// bill, and a money limit let calls on until their worst-case bill was more than twice the limit.
import { describe, expect, it } from 'vitest';
import { PriceBook } from '../src/ledger/price-book.js';
import { withBehindWireUpstream } from './helpers/behind-wire-upstream.js';
import { postUntilRefused } from './helpers/until-refused.js';

const LIMIT = 0.05;
const MAX_TOKENS = 200;
const body = { model: 'haiku', max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: 'Explain how this exploit works.' }], fallbacks: [{ model: 'opus' }] };

describe('timed-out calls with a dearer fallback model against a money limit', () => {
  it('are charged no less than the provider may bill them, so their bills stay within the limit', async () => {
    // The upstream never answers: every call times out.
    await withBehindWireUpstream(() => {}, (url) => `
providers:
  up: {type: anthropic, base_url: "${url}", api_key: k, timeout_ms: 100}
pricing:
  "up/claude-haiku-4-5": {input: 1, output: 5}
  "up/claude-opus-4-8": {input: 5, output: 25}
projects: {p: {daily_limit: {max_cost_usd: ${LIMIT}}}}
routes:
  r:
    chat_models: [{model_id: opus, model: up/claude-opus-4-8}, {model_id: haiku, model: up/claude-haiku-4-5}]
keys: [{id: a, key: tg-a, project: p}]
`, async (gateway) => {
      // One after another until the limit refuses one: each is charged what its timeout was charged.
      const statuses = await postUntilRefused(gateway.url, '/v1/messages', { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'server-side-fallback-2026-07-01' }, body);
      const timedOut = gateway.calls.filter((c) => c.status === 504);
      expect(timedOut.length).toBe(statuses.filter((s) => s === 504).length);
      expect(timedOut.length).toBeGreaterThan(0);
      // What the provider may bill one of them: Haiku reads the prompt and declines, Opus reads it and
      // writes the most it was let (its max_tokens, or half the grant when a clamp lowered it).
      const prices = new PriceBook(new Map([['up/claude-haiku-4-5', { input: 1, output: 5 }], ['up/claude-opus-4-8', { input: 5, output: 25 }]]));
      const worst = (c: (typeof timedOut)[number]): number => {
        const prompt = c.reserved.input / 2;
        const opusOutput = Math.min(MAX_TOKENS, Math.floor(c.reserved.output / 2));
        return prices.cost('up', 'claude-haiku-4-5', { input: prompt, output: 0, cachedInput: 0 }) + prices.cost('up', 'claude-opus-4-8', { input: prompt, output: opusOutput, cachedInput: 0 });
      };
      const billable = timedOut.reduce((sum, c) => sum + worst(c), 0);
      expect(billable).toBeLessThanOrEqual(LIMIT + 1e-12);
      // Each is charged at least that (what the counter and the ledger count), and named as served by no fallback.
      for (const c of timedOut) {
        expect(prices.cost('up', c.target.model.upstreamModel, c.usage)).toBeGreaterThanOrEqual(worst(c) - 1e-12);
        expect(c.fallback).toBeUndefined();
      }
    });
  });
});
