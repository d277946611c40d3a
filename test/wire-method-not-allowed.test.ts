// A path the gateway serves, asked with another method: a 405 with `Allow` (RFC 9110 §15.5.6) in the
// endpoint's error format, OpenAI's message included ("Invalid method for URL (...)"), where it was the 404
// of an unknown endpoint, which sent people looking for a typo in the path. Unknown paths stay 404s.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useTestGateway } from './helpers/use-test-gateway.js';

const gw = useTestGateway(`
providers: {demo: {type: mock}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]}}
keys: [{id: k, key: tg-k}]
`);

const send = async (method: string, path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${gw().url}${path}`, { method, headers: { authorization: 'Bearer tg-k', ...headers } });
  return { status: res.status, allow: res.headers.get('allow'), requestId: res.headers.get('x-request-id') ?? res.headers.get('request-id'), body: await res.json() };
};

describe('a served path asked with another method', () => {
  it('is a 405 naming the methods it takes, in OpenAI format on OpenAI endpoints', async () => {
    const r = await send('GET', '/v1/chat/completions');
    expect(r.status).toBe(405);
    expect(r.allow).toBe('POST');
    expect(r.body).toEqual({
      error: { message: 'Invalid method for URL (GET /v1/chat/completions): this endpoint takes POST.', type: 'invalid_request_error', param: null, code: 'method_not_allowed' },
    });
    expect(r.requestId).toMatch(/^req_/);
    // A stored response takes GET and DELETE; its cancel, POST.
    expect((await send('POST', '/v1/responses/resp_123')).allow).toBe('GET, DELETE');
    expect((await send('GET', '/v1/responses/resp_123/cancel')).allow).toBe('POST');
  });

  it("is Anthropic's error on /v1/messages", async () => {
    const r = await send('GET', '/v1/messages', { 'anthropic-version': '2023-06-01' });
    expect(r.status).toBe(405);
    expect(r.allow).toBe('POST');
    expect(r.body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'Invalid method for URL (GET /v1/messages): this endpoint takes POST.' }, request_id: r.requestId });
  });

  it('reaches the SDKs as an APIError with status 405, not retried', async () => {
    let attempts = 0;
    const counted: typeof fetch = (input, init) => ((attempts += 1), fetch(input, init));
    const openai = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 2, fetch: counted });
    const err = await openai.get('/chat/completions').then(
      () => expect.fail('expected an error'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(405);
    expect(attempts).toBe(1);
    const anthropic = new Anthropic({ baseURL: gw().url, apiKey: 'tg-k', maxRetries: 2 });
    const aerr = await anthropic.get('/v1/messages/count_tokens').then(
      () => expect.fail('expected an error'),
      (e: unknown) => e,
    );
    expect((aerr as InstanceType<typeof Anthropic.APIError>).status).toBe(405);
  });

  it('leaves an unknown path a 404', async () => {
    const r = await send('GET', '/v1/chat/completion');
    expect(r.status).toBe(404);
    expect(r.allow).toBeNull();
    expect(r.body.error.code).toBe('not_found');
  });
});
