// Regression: a request carrying `Authorization: Bearer <key A>` and `x-api-key: <key B>` was charged to
// key A without a word. Two different keys are refused (401, in the endpoint's error format); the same key
// in both headers is fine.
import { beforeEach, describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock(
  { latencyMs: 0, outputTokens: 5 },
  (url) => `
providers:
  claude: {type: anthropic, base_url: "${url}", api_key: sk-up}
  gpt: {type: openai, base_url: "${url}/v1", api_key: sk-up}
users:
  t: {daily_limit: 1000000}
routes:
  main:
    chat_models:
      - {model_id: claude-sonnet-4, model: claude/claude-sonnet-4-20250514}
      - {model_id: gpt-4o, model: gpt/gpt-4o}
keys:
  - {id: alice, key: tg-alice, user: alice, tier: t}
  - {id: bob, key: tg-bob, user: bob, tier: t}
`,
);
beforeEach(() => upstream().clearRequests());

const ask = [{ role: 'user', content: 'hello' }];
const post = (path: string, body: object, headers: Record<string, string>) =>
  fetch(gw().url + path, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers }, body: JSON.stringify(body) });
const both = (bearer: string, apiKey: string) => ({ authorization: `Bearer ${bearer}`, 'x-api-key': apiKey });

describe('Authorization: Bearer and x-api-key naming different keys', () => {
  it("is refused on /v1/messages with Anthropic's authentication_error, nothing sent upstream or charged", async () => {
    const before = gw().calls.length;
    const res = await post('/v1/messages', { model: 'claude-sonnet-4', max_tokens: 10, messages: ask }, both('tg-alice', 'tg-bob'));
    expect(res.status).toBe(401);
    const body = await res.json();
    expect(body).toEqual({ type: 'error', error: { type: 'authentication_error', message: expect.stringMatching(/Two different API keys were sent.*'Authorization: Bearer'.*'x-api-key'/) }, request_id: res.headers.get('request-id') });
    // The message names the headers, never the keys.
    expect(body.error.message).not.toMatch(/tg-alice|tg-bob/);
    const counted = await post('/v1/messages/count_tokens', { model: 'claude-sonnet-4', messages: ask }, both('tg-bob', 'tg-alice'));
    expect([counted.status, (await counted.json()).error.type]).toEqual([401, 'authentication_error']);
    expect(upstream().requests()).toHaveLength(0);
    expect(gw().calls.length).toBe(before);
  });

  it("is refused on OpenAI's endpoints in OpenAI's format", async () => {
    const res = await post('/v1/chat/completions', { model: 'gpt-4o', messages: ask }, both('tg-alice', 'tg-bob'));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { message: expect.stringContaining('Two different API keys were sent'), type: 'invalid_request_error', param: null, code: 'ambiguous_api_key' } });
    const models = await fetch(`${gw().url}/v1/models`, { headers: both('tg-alice', 'tg-bob') });
    expect([models.status, (await models.json()).error.code]).toEqual([401, 'ambiguous_api_key']);
    expect(upstream().requests()).toHaveLength(0);
  });

  it('the same key in both headers is served and charged to that key', async () => {
    const res = await post('/v1/messages', { model: 'claude-sonnet-4', max_tokens: 10, messages: ask }, both('tg-bob', 'tg-bob'));
    expect(res.status).toBe(200);
    expect(gw().calls[gw().calls.length - 1].principal.keyId).toBe('bob');
  });
});
