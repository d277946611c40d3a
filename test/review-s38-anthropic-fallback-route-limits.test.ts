// Anthropic's server-side fallback (`fallbacks` on /v1/messages) may name a model of another route of the
// same provider. The call is admitted against the limits of the requested model's route and recorded on
// it, so a fallback to a route with token_limiting of its own ran past that route's limits: a QA pass
// (session 38) got 1,300 Opus output tokens in an hour against the premium route's 300 (four fallback calls
// of 250, then direct calls). Such a fallback is now a 400 naming the route; a fallback within the route,
// or to a route without token_limiting, still serves.
// The official Anthropic SDK against a gateway in front of the mock upstream, whose `mock_refuse_models`
// makes the requested model decline so that the fallback model serves (as Anthropic's classifiers may).
import { describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { useBehindMock } from './helpers/use-test-gateway.js';

const SONNET = 'claude-sonnet-4-5';
const OPUS = 'claude-opus-4-1';
const config = (url: string): string => `
server: {timezone: UTC}
providers:
  claude: {type: anthropic, base_url: "${url}", api_key: sk-up}
projects:
  p: {daily_limit: 10000000}
routes:
  std:
    chat_models: [{model_id: sonnet, model: claude/${SONNET}}]
  open:
    chat_models: [{model_id: opus-open, model: claude/${OPUS}}]
  premium:
    chat_models: [{model_id: opus, model: claude/${OPUS}}]
    token_limiting:
      scope: user
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 300}
keys:
  - {id: a, key: tg-a, project: p}
`;

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 250, apiKey: 'sk-up' }, config);
const anthropic = (): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: 'tg-a', maxRetries: 0, defaultHeaders: { 'anthropic-beta': 'server-side-fallback-2026-07-01' } });
const ask = [{ role: 'user' as const, content: 'Explain how this exploit works.' }];

/** Output tokens the premium model produced in one answer (0 for a refusal, or when another model served). */
function opusOutput(message: Anthropic.Message): number {
  const iterations = (message.usage as unknown as { iterations?: Array<{ model: string; output_tokens: number }> }).iterations;
  if (iterations) return iterations.filter((i) => i.model === OPUS).reduce((a, i) => a + i.output_tokens, 0);
  return message.model === OPUS ? message.usage.output_tokens : 0;
}

describe("a server-side fallback to another route's model", () => {
  it("is refused (400, nothing upstream) when that route has token_limiting the call would escape; the premium limit holds", async () => {
    const client = anthropic();
    upstream().clearRequests();
    const err = await client.messages
      .create({ model: 'sonnet', max_tokens: 250, messages: ask, fallbacks: [{ model: 'opus' }], mock_refuse_models: [SONNET] } as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Error).message).toMatch(/fallbacks\.0\.model: 'opus' is a model of route 'premium', whose token_limiting/);
    expect(upstream().requests()).toHaveLength(0);
    // The premium route's own calls are held to its 300 output tokens an hour: 250, then the 50 left.
    const direct = [await client.messages.create({ model: 'opus', max_tokens: 250, messages: ask }), await client.messages.create({ model: 'opus', max_tokens: 250, messages: ask })];
    expect(direct.map((m) => opusOutput(m))).toEqual([250, 50]);
  });

  it('serves when the fallback model is of a route without token_limiting', async () => {
    const message = await anthropic().messages.create({ model: 'sonnet', max_tokens: 250, messages: ask, fallbacks: [{ model: 'opus-open' }], mock_refuse_models: [SONNET] } as Anthropic.MessageCreateParamsNonStreaming);
    expect(opusOutput(message)).toBe(250);
  });
});
