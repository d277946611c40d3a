// Anthropic fast mode and US-only inference end to end. A request with `speed: "fast"` (the Anthropic SDK,
// through the gateway, to an `anthropic` provider on the mock upstream, which reports `usage.speed` as the API
// does) is billed at the model's fast-mode factor times every standard rate: its ledger row says `fast` and
// costs that, streamed or not; a money limit reserves it at that price; a configured `fast_factor` replaces
// the built-in one. One with `inference_geo: "us"` (reported as `usage.inference_geo`) costs 1.1x on Opus 4.6
// and later models, on top of fast mode, and what global inference costs on earlier ones.
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { useAnthropicBilling } from './helpers/anthropic-billing.js';

// Opus 4.6 at its built-in price ($5 / $25 per million tokens; fast mode 6x). Opus 5.5 at a configured $4 /
// $20 with a negotiated fast factor of 2.5. The `dollars` project's money limit ($0.05 a day) holds a
// standard Opus 4.6 call of max_tokens 1,000 ($0.025 of output reserved) but not a fast one ($0.15).
const OPUS = 'claude-opus-4-6';
const OPUS_55 = 'claude-opus-5-5';
const OPUS_45 = 'claude-opus-4-5';
const config = (): string => `
pricing:
  "claude/${OPUS}": {input: 5, output: 25}
  "claude/${OPUS_55}": {input: 4, output: 20, fast_factor: 2.5}
  "claude/${OPUS_45}": {input: 5, output: 25}
projects:
  tokens: {daily_limit: 10000000}
  dollars: {daily_limit: {max_cost_usd: 0.05}}
routes:
  main:
    chat_models: [{model_id: opus, model: claude/${OPUS}}, {model_id: opus-5-5, model: claude/${OPUS_55}}, {model_id: opus-4-5, model: claude/${OPUS_45}}]
keys:
  - {id: t, key: tg-tokens, project: tokens, routes: [main]}
  - {id: d, key: tg-dollars, project: dollars, routes: [main]}
`;

const messages = [{ role: 'user' as const, content: 'Refactor this module to use dependency injection.' }];
const FAST: { speed: 'fast'; betas: Anthropic.Beta.AnthropicBeta[] } = { speed: 'fast', betas: ['fast-mode-2026-02-01'] };

describe('Anthropic fast mode through the gateway', () => {
  const { gw, anthropic: client, rowOf, lastSent, lastPrompt } = useAnthropicBilling(config);
  const anthropic = (key = 'tg-tokens'): Anthropic => client(key);

  function expectBilled(row: LedgerRow, price: { input: number; output: number }, factor: number, tier: string | null, geo: string | null = null): void {
    const prompt = lastPrompt();
    expect(row).toMatchObject({ status: 200, usageSource: 'provider', inputTokens: prompt, outputTokens: 20, serviceTier: tier, inferenceGeo: geo });
    expect(row.inputCostUsd).toBeCloseTo((prompt * price.input * factor) / 1e6, 12);
    expect(row.costUsd).toBeCloseTo(((prompt * price.input + 20 * price.output) * factor) / 1e6, 12);
  }

  it('a fast call, streamed or not, costs six times standard on Opus 4.6; a standard one does not', async () => {
    const { data, response } = await anthropic().beta.messages.create({ model: 'opus', max_tokens: 200, messages, ...FAST }).withResponse();
    expect(data.usage.speed).toBe('fast');
    expect(lastSent().speed).toBe('fast');
    expectBilled(await rowOf(response.headers.get('request-id')), { input: 5, output: 25 }, 6, 'fast');

    const stream = anthropic().beta.messages.stream({ model: 'opus', max_tokens: 200, messages, ...FAST });
    expect((await stream.finalMessage()).usage.speed).toBe('fast');
    expectBilled(await rowOf(stream.request_id ?? null), { input: 5, output: 25 }, 6, 'fast');

    const standard = await anthropic().beta.messages.create({ model: 'opus', max_tokens: 200, messages, speed: 'standard' }).withResponse();
    expectBilled(await rowOf(standard.response.headers.get('request-id')), { input: 5, output: 25 }, 1, null);
  });

  it("a configured fast_factor replaces the model's listed one", async () => {
    const { response } = await anthropic().beta.messages.create({ model: 'opus-5-5', max_tokens: 200, messages, ...FAST }).withResponse();
    expectBilled(await rowOf(response.headers.get('request-id')), { input: 4, output: 20 }, 2.5, 'fast');
  });

  it('a money limit reserves a fast call at the fast price: its output clamped where a standard one fits whole', async () => {
    // Fast: $0.05 holds the input at $30 per million and the rest of it as output at $150 per million.
    const fast = await anthropic('tg-dollars').beta.messages.create({ model: 'opus', max_tokens: 1000, messages, ...FAST });
    expect(fast.usage.speed).toBe('fast');
    const prompt = lastPrompt();
    const sentMax = (): unknown => lastSent().max_tokens;
    expect(sentMax()).toBe(Math.floor((50_000 - prompt * 30) / 150));

    // Standard: $0.025 of output and the input fit in what the fast call left.
    const standard = await anthropic('tg-dollars').beta.messages.create({ model: 'opus', max_tokens: 1000, messages });
    expect(standard.usage.speed ?? null).toBeNull();
    expect(sentMax()).toBe(1000);
  });

  it('US-only inference costs 1.1x on Opus 4.6, streamed or not, and on top of fast mode; global and Opus 4.5 cost standard', async () => {
    const us = await anthropic().messages.create({ model: 'opus', max_tokens: 200, messages, inference_geo: 'us' }).withResponse();
    expect(us.data.usage.inference_geo).toBe('us');
    expectBilled(await rowOf(us.response.headers.get('request-id')), { input: 5, output: 25 }, 1.1, null, 'us');

    const stream = anthropic().beta.messages.stream({ model: 'opus', max_tokens: 200, messages, inference_geo: 'us', ...FAST });
    await stream.finalMessage();
    expectBilled(await rowOf(stream.request_id ?? null), { input: 5, output: 25 }, 6 * 1.1, 'fast', 'us');

    const global = await anthropic().messages.create({ model: 'opus', max_tokens: 200, messages, inference_geo: 'global' }).withResponse();
    expectBilled(await rowOf(global.response.headers.get('request-id')), { input: 5, output: 25 }, 1, null, 'global');

    const older = await anthropic().messages.create({ model: 'opus-4-5', max_tokens: 200, messages, inference_geo: 'us' }).withResponse();
    expectBilled(await rowOf(older.response.headers.get('request-id')), { input: 5, output: 25 }, 1, null, 'us');
  });

  it('a money limit reserves US-only inference at 1.1x', async () => {
    // What the calls before left of the $0.05 a day (their settled costs) ...
    await gw().usage.writer.flush();
    const spent = (await gw().usage.ledger.rows({})).filter((r) => r.keyId === 'd').reduce((sum, r) => sum + r.costUsd * 1e6, 0);
    const answer = await anthropic('tg-dollars').messages.create({ model: 'opus', max_tokens: 20_000, messages, inference_geo: 'us' });
    expect(answer.usage.inference_geo).toBe('us');
    // ... holds the input at $5.50 per million and the rest as output at $27.50 per million (1.1 x $5 and $25).
    expect(lastSent().max_tokens).toBe(Math.floor((50_000 - spent - lastPrompt() * 5.5) / 27.5));
  });
});
