// A 429 from Anthropic itself (the provider key's own limit, here its input-tokens-per-minute limit) reaches
// the Anthropic SDK as a RateLimitError with the provider's retry-after and its rate-limit headers alone:
// the gateway's own headers describe the caller's limits, which had room, and must not mix with them.
// Regression: count_tokens kept the gateway's `anthropic-ratelimit-requests-*` beside the provider's headers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';

// What Anthropic sends when the input-tokens limit of the organization is used up.
const PROVIDER_429 = {
  'content-type': 'application/json',
  'request-id': 'req_011CProvider429',
  'retry-after': '7',
  'anthropic-ratelimit-input-tokens-limit': '30000',
  'anthropic-ratelimit-input-tokens-remaining': '0',
  'anthropic-ratelimit-input-tokens-reset': '2026-11-21T12:00:07Z',
};
const BODY = JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'This request would exceed the rate limit for your organization of 30,000 input tokens per minute.' } });

let server: Server;
let gw: TestGateway;
let seen = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen++;
      res.writeHead(429, PROVIDER_429).end(BODY);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  gw = await startTestGateway(`
server: {timezone: UTC}
providers:
  claude: {type: anthropic, base_url: "${url}", api_key: sk-ant-provider}
projects:
  p: {daily_limit: 1000000}
users:
  t: {rate_limit: 100}
routes:
  main:
    chat_models: [{model_id: sonnet, model: claude/claude-sonnet-4-5}]
keys:
  - {id: k, key: tg-k, user: u, tier: t, project: p}
`);
});
afterAll(async () => {
  await gw.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const client = (): Anthropic => new Anthropic({ baseURL: gw.url, apiKey: 'tg-k', maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'Hello' }];

/** The rate-limit headers of an SDK error. */
function rateLimitHeaders(err: unknown): Record<string, string> {
  expect(err).toBeInstanceOf(Anthropic.RateLimitError);
  const headers = (err as InstanceType<typeof Anthropic.RateLimitError>).headers!;
  return Object.fromEntries([...headers].filter(([name]) => /^(anthropic|x)-ratelimit-|^retry-after/.test(name)));
}

describe("the provider's own 429", () => {
  const expected = {
    'retry-after': '7',
    'anthropic-ratelimit-input-tokens-limit': '30000',
    'anthropic-ratelimit-input-tokens-remaining': '0',
    'anthropic-ratelimit-input-tokens-reset': '2026-11-21T12:00:07Z',
  };

  it('on /v1/messages: its headers alone, its error body as sent', async () => {
    const err = await client().messages.create({ model: 'sonnet', max_tokens: 50, messages }).catch((e: unknown) => e);
    expect(rateLimitHeaders(err)).toEqual(expected);
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).error).toEqual(JSON.parse(BODY));
  });

  it('on /v1/messages/count_tokens: the same', async () => {
    const before = seen;
    const err = await client().messages.countTokens({ model: 'sonnet', messages }).catch((e: unknown) => e);
    expect(seen).toBe(before + 1);
    expect(rateLimitHeaders(err)).toEqual(expected);
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).error).toEqual(JSON.parse(BODY));
  });
});
