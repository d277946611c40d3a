// The 503 a request gets while the counter store is down (`on_store_error: fail_closed`), in each API's
// format: OpenAI's `server_error` with code `store_unavailable`; Anthropic's error envelope with its request
// id. Both SDKs take it as a server error and retry it (it is transient), and nothing reaches the provider.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { loadPolicy } from '../src/config/index.js';
import { openCounterStore } from '../src/limits/open-counter-store.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { Gateway } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { ManualClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { writeConfig } from './helpers/processes.js';

let upstream: MockUpstream;
let app: FastifyInstance;
let gateway: Gateway;
let url: string;

/** A loopback port nothing listens on: Redis there is down for the whole file. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 5 });
  const upstreamUrl = await upstream.listen(0, '127.0.0.1');
  const policy = loadPolicy([writeConfig(`
storage: {counters: "redis://127.0.0.1:${await closedPort()}", on_store_error: fail_closed, timeout_ms: 100}
providers:
  gpt: {type: openai, base_url: "${upstreamUrl}/v1", api_key: sk-up}
  claude: {type: anthropic, base_url: "${upstreamUrl}", api_key: sk-up}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: gpt/gpt-4o}, {model_id: claude, model: claude/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-k, project: p}]
`)], process.env);
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 12));
  const quiet = { info: () => {}, warn: () => {} };
  gateway = new Gateway(policy, await openCounterStore(policy, quiet, clock), clock);
  app = buildServer({ gateway: () => gateway, maxBodyBytes: undefined });
  url = await listenLocal(app);
}, 20_000);
afterAll(async () => {
  await closeApp(app);
  await gateway.close();
  await upstream.close();
});

/** A fetch that counts the attempts the SDK makes (its retries included). */
function counting(): { fetch: typeof fetch; attempts: () => number } {
  let n = 0;
  return { fetch: (input, init) => ((n += 1), fetch(input, init)), attempts: () => n };
}
const ask = [{ role: 'user' as const, content: 'hi' }];

describe('a counter store that is down, failing closed', () => {
  it("is OpenAI's 503 server_error store_unavailable, which the SDK retries", async () => {
    const c = counting();
    const err = (await new OpenAI({ baseURL: `${url}/v1`, apiKey: 'tg-k', maxRetries: 1, fetch: c.fetch }).chat.completions
      .create({ model: 'gpt-4o', messages: ask })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err).toMatchObject({ status: 503, type: 'server_error', code: 'store_unavailable', param: null });
    expect(err.requestID).toMatch(/^req_/);
    expect(err.headers?.get('content-type')).toMatch(/^application\/json/);
    expect(c.attempts()).toBe(2);
    expect(upstream.requests()).toHaveLength(0);
  });

  it("is Anthropic's error envelope with its request id on /v1/messages, which the SDK retries", async () => {
    const c = counting();
    const err = (await new Anthropic({ baseURL: url, apiKey: 'tg-k', maxRetries: 1, fetch: c.fetch }).messages
      .create({ model: 'claude', max_tokens: 10, messages: ask })
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect(err.status).toBe(503);
    expect(err.error).toEqual({ type: 'error', error: { type: err.type, message: expect.stringContaining('counter store') }, request_id: err.requestID });
    // Anthropic has no 503 of its own; the README pairs it with overloaded_error, which its SDKs retry.
    expect(err.type).toBe('overloaded_error');
    expect(err.headers?.get('x-ratelimit-limit-tokens')).toBeNull();
    expect(c.attempts()).toBe(2);
    expect(upstream.requests()).toHaveLength(0);
  });
});
