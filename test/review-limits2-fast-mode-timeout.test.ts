// A /v1/messages call asking for Claude's fast mode (`speed: "fast"`, Opus 4.7 at 6x standard) and US-only
// inference (`inference_geo: "us"`, 1.1x) is reserved at both, but one the gateway counts itself (no usage
// from the provider: a call it stopped waiting for, timeout_ms) was charged at the standard global price:
// a sixth of what the provider may bill, and a money limit let timed-out calls on until their worst-case
// bill was several times the limit.
import { describe, expect, it } from 'vitest';
import { PriceBook } from '../src/ledger/price-book.js';
import { withBehindWireUpstream } from './helpers/behind-wire-upstream.js';
import { postUntilRefused } from './helpers/until-refused.js';

const LIMIT = 0.1;
const MAX_TOKENS = 100;

describe('timed-out fast-mode, US-only calls against a money limit', () => {
  it('are charged at the rates they asked to run at, so their bills stay within the limit', async () => {
    // The upstream never answers: every call times out.
    await withBehindWireUpstream(() => {}, (url) => `
providers:
  up: {type: anthropic, base_url: "${url}", api_key: k, timeout_ms: 100}
pricing:
  "up/claude-opus-4-7": {input: 5, output: 25}
projects: {p: {daily_limit: {max_cost_usd: ${LIMIT}}}}
routes:
  r:
    chat_models: [{model_id: opus, model: up/claude-opus-4-7}]
keys: [{id: a, key: tg-a, project: p}]
`, async (gateway) => {
      const statuses = await postUntilRefused(gateway.url, '/v1/messages', { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'fast-mode-2026-02-01' }, {
        model: 'opus', max_tokens: MAX_TOKENS, speed: 'fast', inference_geo: 'us', messages: [{ role: 'user', content: 'Summarize the incident report.' }],
      });
      const timedOut = gateway.calls.filter((c) => c.status === 504);
      expect(timedOut.length).toBeGreaterThan(0);
      expect(statuses).toContain(429);
      const prices = new PriceBook(gateway.gateway.policy.pricing);
      // What the provider may bill each: its input and output at fast mode, US-only.
      const worst = (u: { input: number; output: number }): number => prices.cost('up', 'claude-opus-4-7', { input: u.input, output: u.output, cachedInput: 0, serviceTier: 'fast', inferenceGeo: 'us' });
      expect(timedOut.reduce((sum, c) => sum + worst(c.usage), 0)).toBeLessThanOrEqual(LIMIT + 1e-12);
      for (const c of timedOut) expect(prices.cost('up', 'claude-opus-4-7', c.usage)).toBeGreaterThanOrEqual(worst(c.usage) - 1e-12);
    });
  });
});
