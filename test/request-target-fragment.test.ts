// Regression (security review): Node accepts a `#` in a request target, which no valid target has, and the
// retrieval and conversation endpoints passed everything after the `?` on to the provider, fragment and
// all, with the gateway's provider key: `GET /v1/responses/{id}?a=1#/../../files` reached it as
// `/v1/responses/{id}?a=1#/../../files`, for the provider (or a proxy before it) to read its own way.
import { request } from 'node:http';
import OpenAI from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { queryOf } from '../src/proxy/stored-object-relay.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const KEY = 'tg-fragment';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 5 }, (url) => `
providers:
  openai: {type: openai, base_url: "${url}/v1", api_key: sk-up}
projects: {web: {daily_limit: 1000000}}
routes:
  r:
    chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1}]
keys: [{id: web, key: ${KEY}, project: web}]
`);
beforeEach(() => upstream().clearRequests());

/** Sends `target` exactly as written (fetch would drop the fragment itself). */
function rawGet(target: string): Promise<number> {
  const { port } = new URL(gw().url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'GET', path: target, headers: { authorization: `Bearer ${KEY}` } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode!));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('a fragment in the request target', () => {
  it('is not passed on to the provider: only the query before it goes', async () => {
    const client = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: KEY, maxRetries: 0 });
    const { id } = await client.responses.create({ model: 'gpt-4.1', input: 'hi', max_output_tokens: 16 });
    const { id: conversation } = await client.conversations.create({});
    upstream().clearRequests();

    expect(await rawGet(`/v1/responses/${id}?include=x#/../../files`)).toBe(200);
    expect(await rawGet(`/v1/responses/${id}/input_items?limit=1#?order=desc`)).toBe(200);
    expect(await rawGet(`/v1/responses/${id}#?limit=1`)).toBe(200);
    expect(await rawGet(`/v1/conversations/${conversation}/items?limit=2#/../..`)).toBe(200);
    expect(upstream().requests().map((r) => r.url)).toEqual([
      `/v1/responses/${id}?include=x`,
      `/v1/responses/${id}/input_items?limit=1`,
      `/v1/responses/${id}`,
      `/v1/conversations/${conversation}/items?limit=2`,
    ]);
  });

  it('queryOf: the query without its `?`, up to any fragment', () => {
    expect(queryOf('/v1/responses/r')).toBe('');
    expect(queryOf('/v1/responses/r?stream=true&starting_after=4')).toBe('stream=true&starting_after=4');
    expect(queryOf('/v1/responses/r?a=1#b?c')).toBe('a=1');
    expect(queryOf('/v1/responses/r#x?a=1')).toBe('');
  });
});
