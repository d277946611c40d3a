// README "Anthropic: native, and behind the OpenAI API", checked with the official Anthropic SDK against a
// gateway in front of the mock upstream: what goes upstream from the client's headers, and extended
// thinking under a clamp with the interleaved-thinking beta (where Anthropic lets the budget exceed
// max_tokens, so the gateway neither lowers it nor refuses a call with less room than 1,025 tokens).
import { beforeEach, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { useBehindMock } from './helpers/use-test-gateway.js';

const MODEL = 'claude-sonnet-4-5';
const config = (url: string): string => `
server: {timezone: UTC}
providers:
  claude: {type: anthropic, base_url: "${url}", api_key: sk-up}
projects:
  p: {daily_limit: 10000000}
  small: {daily_limit: 3000}
  small2: {daily_limit: 3000}
routes:
  claude:
    chat_models: [{model_id: claude, model: claude/${MODEL}}, {model_id: opus, model: claude/claude-opus-4-1}]
keys:
  - {id: a, key: tg-a, project: p}
  - {id: s, key: tg-s, project: small}
  - {id: s2, key: tg-s2, project: small2}
`;

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 10, apiKey: 'sk-up' }, config);
beforeEach(() => upstream().clearRequests());
const anthropic = (key: string, headers: Record<string, string> = {}): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: key, maxRetries: 0, defaultHeaders: headers });
const ask = [{ role: 'user' as const, content: 'Think about the gateway.' }];
const sent = () => upstream().requests().filter((r) => r.path === '/v1/messages');

describe('client headers on /v1/messages', () => {
  it('only anthropic-version and anthropic-beta of the client go upstream, beside the provider key', async () => {
    const client = anthropic('tg-a', { 'anthropic-beta': 'a-1,b-2', 'x-custom': 'yes', 'anthropic-dangerous-direct-browser-access': 'true', 'user-agent': 'app/1.0', 'x-tollgate-tags': 'team=x' });
    await client.messages.create({ model: 'claude', max_tokens: 20, messages: ask });
    const headers = sent()[0]!.headers;
    expect(headers['x-api-key']).toBe('sk-up');
    expect(headers['anthropic-beta']).toBe('a-1,b-2');
    expect(headers['anthropic-version']).toMatch(/^\d{4}-\d\d-\d\d$/);
    // Node's own, the body's and the gateway's `accept-encoding: identity`; nothing else of the client's (the
    // SDK's x-stainless-*, user-agent, its accept-encoding, ...).
    expect(Object.keys(headers).sort()).toEqual(['accept-encoding', 'anthropic-beta', 'anthropic-version', 'connection', 'content-length', 'content-type', 'host', 'x-api-key']);
    expect(headers['accept-encoding']).toBe('identity');
  });
});

describe('extended thinking under a clamp with the interleaved-thinking beta', () => {
  const beta = { 'anthropic-beta': 'interleaved-thinking-2025-05-14' };

  it('lowers max_tokens to the room left but leaves the budget, which may exceed it, as sent', async () => {
    const client = anthropic('tg-s', beta);
    const { response } = await client.messages
      .create({ model: 'claude', max_tokens: 5000, messages: ask, thinking: { type: 'enabled', budget_tokens: 1024 }, mock_output_tokens: 2500 } as Anthropic.MessageCreateParamsNonStreaming)
      .withResponse();
    const clamped = Number(response.headers.get('x-tollgate-clamped-max-tokens'));
    expect(clamped).toBeGreaterThan(2900);
    expect(clamped).toBeLessThan(3000);
    expect(sent()[0]!.body).toMatchObject({ max_tokens: clamped, thinking: { type: 'enabled', budget_tokens: 1024 } });
    upstream().clearRequests();
    // About 450 tokens of room are left: less than the 1,025 a thinking call needs without the beta (a 429
    // there), but with it the call goes upstream with max_tokens below the budget, which stays as sent.
    // (The mock applies the budget rule without reading headers, so it refuses; Anthropic would not.)
    const err = await client.messages.create({ model: 'claude', max_tokens: 5000, messages: ask, thinking: { type: 'enabled', budget_tokens: 4000 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const [second] = sent();
    expect(second!.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');
    expect(second!.body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 4000 } });
    expect((second!.body as { max_tokens: number }).max_tokens).toBeLessThan(1025);
  });
});

describe('the interleaved-thinking beta with server-side fallback', () => {
  // README: a thinking call with less room than 1,025 tokens is a 429, "not with the interleaved-thinking
  // beta, where the budget may exceed max_tokens". With fallbacks it was refused all the same (429 "779
  // left, and this request needs 10042", nothing sent): the fallback attempt, which inherits the top-level
  // `thinking`, was held to a manual-thinking call's least (1,025) whatever the beta, and its budget would
  // have been lowered below its max_tokens (found by a gateway-level QA pass, session 38).
  it('goes upstream with every max_tokens lowered to the room left and the budgets as sent', async () => {
    const client = anthropic('tg-s2', { 'anthropic-beta': 'interleaved-thinking-2025-05-14,server-side-fallback-2026-07-01' });
    await client.messages.create({ model: 'claude', max_tokens: 2200, messages: ask, mock_output_tokens: 2200 } as Anthropic.MessageCreateParamsNonStreaming);
    upstream().clearRequests();
    const err = await client.messages
      .create({ model: 'claude', max_tokens: 5000, messages: ask, thinking: { type: 'enabled', budget_tokens: 4000 }, fallbacks: [{ model: 'opus' }] } as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(Anthropic.RateLimitError);
    expect(sent()).toHaveLength(1);
    const body = sent()[0]!.body as { max_tokens: number; thinking: object; fallbacks: Array<{ max_tokens: number; thinking?: object }> };
    expect(body.max_tokens + body.fallbacks[0]!.max_tokens).toBeLessThan(1025);
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 4000 });
    expect(body.fallbacks[0]!.thinking ?? body.thinking).toEqual({ type: 'enabled', budget_tokens: 4000 });
  });
});
