// Regression: a request carrying `Authorization: Bearer <key A>` and `x-api-key: <key B>` was charged to
// key A without a word. Two different keys are refused (401, in the endpoint's error format); the same key
// in both headers is fine.
import { request } from 'node:http';
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

// Node joins two `x-api-key` headers with ", ": the joined value matched no key, so the same key sent
// twice was a 401 invalid_api_key (while two equal Authorization headers were served), and two different
// keys were told their key was invalid rather than ambiguous. Found by a QA pass (session 38).
describe('two x-api-key headers', () => {
  const twice = (a: string, b: string): Promise<Response> =>
    new Promise((resolve, reject) => {
      // fetch joins repeated headers itself; a raw request sends them as two lines.
      const url = new URL(gw().url);
      const body = JSON.stringify({ model: 'claude-sonnet-4', max_tokens: 10, messages: ask });
      const req = request({ host: url.hostname, port: url.port, path: '/v1/messages', method: 'POST', headers: [['host', url.host], ['content-type', 'application/json'], ['anthropic-version', '2023-06-01'], ['x-api-key', a], ['x-api-key', b], ['content-length', String(Buffer.byteLength(body))]].flat() });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode })));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('naming the same key: served and charged to it', async () => {
    const res = await twice('tg-alice', 'tg-alice');
    expect(res.status).toBe(200);
    expect(gw().calls.at(-1)!.principal.keyId).toBe('alice');
  });

  it('naming different keys: the 401 ambiguous_api_key, nothing sent upstream', async () => {
    const res = await twice('tg-alice', 'tg-bob');
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/two 'x-api-key' headers/);
    expect(upstream().requests()).toHaveLength(0);
  });
});
