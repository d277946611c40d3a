// A provider whose base URL carries a query (Azure's `api-version`) sends it on every retrieval, then the
// client's query. A client repeating one of the base URL's parameters with its own value
// (`?api-version=2099-01-01-preview`) reached the provider with both: which one wins was the provider's
// choice, not the operator's. The operator's parameters are now the only ones of their names.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const KEY = 'tg-azure';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 5 }, (url) => `
providers:
  azure: {type: openai, base_url: "${url}/v1?api-version=2024-10-21", api_key: sk-up}
projects: {web: {daily_limit: 1000000}}
routes:
  r:
    chat_models: [{model_id: gpt-4.1, model: azure/gpt-4.1}]
keys: [{id: web, key: ${KEY}, project: web}]
`);

describe("a retrieval's query on a provider whose base URL has one", () => {
  it("keeps the base URL's parameters the operator's: the client's own others follow", async () => {
    const client = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: KEY, maxRetries: 0 });
    const { id } = await client.responses.create({ model: 'gpt-4.1', input: 'hi', max_output_tokens: 16 });
    upstream().clearRequests();
    const get = (query: string) => fetch(`${gw().url}/v1/responses/${id}?${query}`, { headers: { authorization: `Bearer ${KEY}` } });
    expect((await get('api-version=2099-01-01-preview&include=x')).status).toBe(200);
    expect((await get('api%2Dversion=2099&include=y')).status).toBe(200);
    expect((await get('include=z&api-version')).status).toBe(200);
    expect(upstream().requests().map((r) => r.url)).toEqual([
      `/v1/responses/${id}?api-version=2024-10-21&include=x`,
      `/v1/responses/${id}?api-version=2024-10-21&include=y`,
      `/v1/responses/${id}?api-version=2024-10-21&include=z`,
    ]);
  });
});
