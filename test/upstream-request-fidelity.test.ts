// Regression tests from an audit: what the gateway sends upstream (output caps, the base URL's query)
// and what of the upstream's error answer reaches the client (its retry advice).
import { beforeEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import OpenAI from 'openai';
import { passableHeaders } from '../src/providers/provider.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const config = (url: string): string => `
server: {timezone: UTC}
providers:
  openai: {type: openai, base_url: "${url}/v1"}
  azure: {type: openai, base_url: "${url}/v1?api-version=2024-10-21"}
projects:
  roomy: {daily_limit: 1000000}
  tight: {daily_limit: 1000000, request_limit: 60}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: openai/gpt-4o}
      - {model_id: azure-4o, model: azure/gpt-4o}
      - {model_id: o3, model: openai/o3}
      - {model_id: gpt-5, model: openai/gpt-5-2025-08-07}
    embedding_models:
      - {model_id: azure-embed, model: azure/text-embedding-3-small}
keys:
  - {id: roomy, key: tg-roomy, project: roomy}
  - {id: tight, key: tg-tight, project: tight}
`;

const client = (key = 'tg-roomy'): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
const sent = (): Record<string, unknown> => upstream().requests().at(-1)!.body as Record<string, unknown>;
const messages = [{ role: 'user' as const, content: 'hi' }];

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 8 }, config);
beforeEach(() => upstream().clearRequests());

describe('max_tokens and max_completion_tokens together', () => {
  it('sends both as the reserved (smaller) value when they differ', async () => {
    await client().chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 100, max_completion_tokens: 5000 });
    expect(sent()).toMatchObject({ max_tokens: 100, max_completion_tokens: 100 });
    expect(gw().calls.at(-1)!.reserved.output).toBe(100);
    await client().chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 7000, max_completion_tokens: 300 });
    expect(sent()).toMatchObject({ max_tokens: 300, max_completion_tokens: 300 });
  });

  it('clamps max_completion_tokens alone and adds no max_tokens', async () => {
    const res = await client('tg-tight').chat.completions.create({ model: 'gpt-4o', messages, max_completion_tokens: 5000 }).withResponse();
    const granted = Number(res.response.headers.get('x-tollgate-clamped-max-tokens'));
    expect(granted).toBeGreaterThan(0);
    expect(granted).toBeLessThan(60);
    expect(sent().max_completion_tokens).toBe(granted);
    expect(sent()).not.toHaveProperty('max_tokens');
  });
});

// Regression test from an audit: a reasoning model's call without a cap got max_completion_tokens 4096,
// and its hidden reasoning counts against that, so many answers ended empty with finish_reason "length".
describe('a reasoning model without an output cap', () => {
  it('gets enforcement.reasoning_default_max_tokens (25,000), other models default_max_tokens', async () => {
    for (const model of ['o3', 'gpt-5']) {
      await client().chat.completions.create({ model, messages });
      expect(sent().max_completion_tokens).toBe(25_000);
      expect(sent()).not.toHaveProperty('max_tokens');
      expect(gw().calls.at(-1)!.reserved.output).toBe(25_000);
    }
    await client().responses.create({ model: 'o3', input: 'hi' });
    expect(sent().max_output_tokens).toBe(25_000);
    await client().chat.completions.create({ model: 'gpt-4o', messages });
    expect(sent().max_tokens).toBe(4096);
  });
});

describe('legacy /v1/completions without max_tokens', () => {
  // Regression test from an audit: the body went without max_tokens, and an OpenAI-compatible server
  // without OpenAI's default (Ollama) generated past what was reserved.
  it("reserves OpenAI's default of 16 per choice and sends it, so no upstream generates more", async () => {
    await client().completions.create({ model: 'gpt-4o', prompt: 'Once upon a time' });
    expect(sent().max_tokens).toBe(16);
    expect(gw().calls.at(-1)!.reserved.output).toBe(16);
    await client().completions.create({ model: 'gpt-4o', prompt: ['a', 'b'], n: 2 });
    expect(sent().max_tokens).toBe(16);
    expect(gw().calls.at(-1)!.reserved.output).toBe(64);
  });

  it('sends max_tokens when a limit lowers the allowance below 16', async () => {
    // 60-token request limit: a prompt of ~50 tokens leaves fewer than 16 for the output.
    const prompt = 'word '.repeat(48);
    await client('tg-tight').completions.create({ model: 'gpt-4o', prompt });
    const reserved = gw().calls.at(-1)!.reserved.output;
    expect(reserved).toBeLessThan(16);
    expect(sent().max_tokens).toBe(reserved);
  });
});

describe('a base_url with a query string', () => {
  it('keeps the query on every upstream path', async () => {
    await client().chat.completions.create({ model: 'azure-4o', messages });
    await client().completions.create({ model: 'azure-4o', prompt: 'hi' });
    await client().embeddings.create({ model: 'azure-embed', input: 'hi' });
    await client().responses.create({ model: 'azure-4o', input: 'hi' });
    await client().chat.completions.create({ model: 'azure-4o', messages, stream: true }).then(async (s) => {
      for await (const _ of s);
    });
    expect(upstream().requests().map((r) => r.url)).toEqual([
      '/v1/chat/completions?api-version=2024-10-21',
      '/v1/completions?api-version=2024-10-21',
      '/v1/embeddings?api-version=2024-10-21',
      '/v1/responses?api-version=2024-10-21',
      '/v1/chat/completions?api-version=2024-10-21',
    ]);
    await client().chat.completions.create({ model: 'gpt-4o', messages });
    expect(upstream().requests().at(-1)!.url).toBe('/v1/chat/completions');
  });
});

describe("the upstream's retry advice on its errors", () => {
  it('passes retry-after of an upstream 429 to the client', async () => {
    const err = await client()
      // @ts-expect-error: a mock control field, passed through untouched
      .chat.completions.create({ model: 'gpt-4o', messages, mock_error_status: 429 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const headers = (err as InstanceType<typeof OpenAI.RateLimitError>).headers!;
    expect(headers.get('retry-after')).toBe('1');
    // The provider's limit refused the call: its rate-limit headers come, not the gateway's (which had room).
    expect(headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(headers.get('x-ratelimit-limit-requests')).toBe('500');
    expect(headers.get('x-ratelimit-limit-tokens')).toBeNull();
    const fine = await client().chat.completions.create({ model: 'gpt-4o', messages }).withResponse();
    expect(Number(fine.response.headers.get('x-ratelimit-limit-tokens'))).toBeGreaterThan(0);
  });

  it('keeps retry-after, retry-after-ms and x-should-retry on 4xx/5xx only', () => {
    const raw = { 'retry-after': '2', 'retry-after-ms': '1500', 'x-should-retry': 'false', 'content-type': 'application/json', 'set-cookie': 'a=b' };
    const advice = { 'retry-after': '2', 'retry-after-ms': '1500', 'x-should-retry': 'false', 'content-type': 'application/json' };
    expect(passableHeaders(raw, 429)).toEqual(advice);
    expect(passableHeaders(raw, 503)).toEqual(advice);
    // The provider's rate-limit headers only on its 429, where they say which of its limits refused.
    const limits = { 'x-ratelimit-remaining-requests': '0', 'anthropic-ratelimit-tokens-remaining': '0' };
    expect(passableHeaders({ ...raw, ...limits }, 429)).toEqual({ ...advice, ...limits });
    expect(passableHeaders({ ...raw, ...limits }, 503)).toEqual(advice);
    expect(passableHeaders({ ...raw, ...limits }, 200)).toEqual({ 'content-type': 'application/json' });
    expect(passableHeaders(raw, 200)).toEqual({ 'content-type': 'application/json' });
  });
});

describe('headers between the client and the upstream', () => {
  it("sends none of the client's hop-by-hop, proxy, cookie or identity headers upstream", async () => {
    const body = JSON.stringify({ model: 'gpt-4o', messages });
    const { hostname, port } = new URL(gw().url);
    const status = await new Promise<number>((resolve, reject) => {
      // node:http, since fetch refuses to send hop-by-hop headers at all.
      const req = request(
        {
          hostname,
          port,
          method: 'POST',
          path: '/v1/chat/completions',
          headers: {
            authorization: 'Bearer tg-roomy',
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'keep-alive': 'timeout=5',
            te: 'trailers',
            'proxy-authorization': 'Basic c2VjcmV0',
            'proxy-connection': 'keep-alive',
            cookie: 'session=client',
            'openai-organization': 'org-of-the-client',
            'x-forwarded-for': '203.0.113.9',
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
    const headers = upstream().requests().at(-1)!.headers;
    for (const name of ['keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'cookie', 'openai-organization', 'x-forwarded-for', 'authorization']) {
      expect(headers[name], name).toBeUndefined();
    }
    expect(headers['content-type']).toBe('application/json');
  });

  it("passes none of the upstream's hop-by-hop, cookie or rate-limit headers back", () => {
    const raw = {
      connection: 'close',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'set-cookie': 'upstream=1',
      'x-ratelimit-remaining-tokens': '5',
      'openai-organization': 'org-of-the-gateway',
      'content-type': 'application/json',
      'x-request-id': 'req_up',
    };
    expect(passableHeaders(raw, 200)).toEqual({ 'content-type': 'application/json', 'x-upstream-request-id': 'req_up' });
    // Anthropic's name for it: renamed the same way, so the client's request-id is the gateway's.
    expect(passableHeaders({ 'request-id': 'req_anthropic', 'anthropic-version': '2023-06-01' }, 200)).toEqual({ 'x-upstream-request-id': 'req_anthropic', 'anthropic-version': '2023-06-01' });
  });
});
