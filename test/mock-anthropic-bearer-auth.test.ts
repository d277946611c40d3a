// The mock upstream refused the official SDK's own requests: since API version 2026-10-21 the SDK (1.x)
// sends the API key as `Authorization: Bearer`, which Anthropic accepts (with both headers it uses
// x-api-key), but the mock demanded x-api-key and answered 401.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';

const KEY = 'sk-ant-mock-auth';
let upstream: MockUpstream;
let url: string;

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 4, apiKey: KEY });
  url = await upstream.listen(0, '127.0.0.1');
});
afterAll(() => upstream.close());

const messages = [{ role: 'user' as const, content: 'Hi.' }];
const post = (headers: Record<string, string>) =>
  fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2026-10-21', ...headers }, body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages }) });

describe('the mock upstream on /v1/messages', () => {
  it('answers the SDK, which sends its key as a bearer token', async () => {
    const answer = await new Anthropic({ baseURL: url, apiKey: KEY, maxRetries: 0 }).messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages });
    expect(answer.usage.output_tokens).toBe(4);
    expect(upstream.requests().at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('refuses a wrong key, either way it comes, and reads x-api-key first when both come', async () => {
    const wrong = await new Anthropic({ baseURL: url, apiKey: 'sk-ant-wrong', maxRetries: 0 }).messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((await post({ 'x-api-key': KEY, authorization: 'Bearer sk-ant-wrong' })).status).toBe(200);
    expect((await post({ 'x-api-key': 'sk-ant-wrong', authorization: `Bearer ${KEY}` })).status).toBe(401);
    expect((await post({})).status).toBe(401);
  });
});
