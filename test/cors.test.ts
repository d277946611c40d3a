// CORS on the proxied API (`server.cors_origins`): preflights answered without a key, CORS headers on
// every answer to an allowed origin (errors, 429s, streams, the Anthropic endpoint), none elsewhere or by default.
import { describe, expect, it } from 'vitest';
import { EXPOSED_HEADERS, PREFLIGHT_MAX_AGE_S } from '../src/proxy/cors.js';
import { loadPolicy } from '../src/config/index.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { Gateway } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { ManualClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { writeConfig } from './helpers/processes.js';
import { useTestGateway } from './helpers/use-test-gateway.js';

const ALLOWED = 'https://tools.example.com';
const OTHER = 'https://evil.example.net';
// What the openai and anthropic SDKs send from a browser, as the browser lists them in a preflight.
const SDK_HEADERS = 'anthropic-dangerous-direct-browser-access,anthropic-version,authorization,content-type,x-api-key,x-stainless-arch,x-stainless-lang,x-stainless-os,x-tollgate-tags';

const config = (server: string): string => `
server: {max_body_bytes: 4096${server}}
providers: {demo: {type: mock, output_tokens: 10}}
users: {tiny: {rate_limit: 2}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys:
  - {id: a, key: tg-a, routes: [r]}
  - {id: t, key: tg-t, user: tim, tier: tiny, routes: [r]}
`;

const chat = (url: string, headers: Record<string, string>, body: unknown = { model: 'm', messages: [{ role: 'user', content: 'hi' }] }) =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const preflight = (url: string, origin: string, path = '/v1/chat/completions', method = 'POST') =>
  fetch(`${url}${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': SDK_HEADERS } });
const corsHeadersOf = (res: Response): string[] => [...res.headers.keys()].filter((name) => name.startsWith('access-control-'));

/** What every answer to an allowed origin carries. */
function expectAllowed(res: Response, origin = ALLOWED): void {
  expect(res.headers.get('access-control-allow-origin')).toBe(origin);
  expect(res.headers.get('access-control-expose-headers')).toBe(EXPOSED_HEADERS.join(', '));
  if (origin !== '*') expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
}

describe('CORS with a list of origins', () => {
  const gw = useTestGateway(config(`, cors_origins: ["${ALLOWED}", "http://localhost:5173"]`));

  it('answers a preflight from an allowed origin with 204 and no key: methods, the headers asked for, a max age', async () => {
    const res = await preflight(gw().url, ALLOWED);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE');
    expect(res.headers.get('access-control-allow-headers')).toBe(SDK_HEADERS);
    expect(res.headers.get('access-control-max-age')).toBe(String(PREFLIGHT_MAX_AGE_S));
    expect(res.headers.get('vary')).toMatch(/Origin.*Access-Control-Request-Headers/);
    // Anthropic's endpoint and the Responses API's DELETE too.
    expect((await preflight(gw().url, 'http://localhost:5173', '/v1/messages')).status).toBe(204);
    expect((await preflight(gw().url, ALLOWED, '/v1/responses/resp_1', 'DELETE')).status).toBe(204);
  });

  it('gives an origin not on the list no CORS header: its preflight is the 405 of any OPTIONS, its answers are unreadable to the page', async () => {
    const refused = await preflight(gw().url, OTHER);
    expect(refused.status).toBe(405);
    expect(corsHeadersOf(refused)).toEqual([]);
    // Origins are compared exactly: another scheme or port is another origin.
    expect(corsHeadersOf(await preflight(gw().url, 'http://tools.example.com'))).toEqual([]);
    const call = await chat(gw().url, { origin: OTHER, authorization: 'Bearer tg-a' });
    expect(call.status).toBe(200);
    expect(corsHeadersOf(call)).toEqual([]);
    expect(call.headers.get('vary')).toBe('Origin');
  });

  it('lets the page read the rate-limit headers and the request ids of a call', async () => {
    const res = await chat(gw().url, { origin: ALLOWED, authorization: 'Bearer tg-a' });
    expect(res.status).toBe(200);
    expectAllowed(res);
    const exposed = res.headers.get('access-control-expose-headers')!.split(', ');
    for (const name of ['x-ratelimit-remaining-tokens', 'x-tollgate-request-id', 'x-request-id', 'retry-after', 'x-tollgate-limit', 'x-should-retry', 'request-id', 'anthropic-ratelimit-tokens-remaining']) {
      expect(exposed).toContain(name);
    }
  });

  it('puts the CORS headers on error answers: a bad key, an unknown model, bad JSON, a body too large', async () => {
    const badKey = await chat(gw().url, { origin: ALLOWED, authorization: 'Bearer nope' });
    expect(badKey.status).toBe(401);
    expectAllowed(badKey);
    const unknownModel = await chat(gw().url, { origin: ALLOWED, authorization: 'Bearer tg-a' }, { model: 'nope', messages: [{ role: 'user', content: 'hi' }] });
    expect(unknownModel.status).toBe(404);
    expectAllowed(unknownModel);
    const badJson = await chat(gw().url, { origin: ALLOWED, authorization: 'Bearer tg-a' }, '{"model":');
    expect(badJson.status).toBe(400);
    expectAllowed(badJson);
    const tooLarge = await chat(gw().url, { origin: ALLOWED, authorization: 'Bearer tg-a' }, { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(5000) }] });
    expect(tooLarge.status).toBe(413);
    expectAllowed(tooLarge);
    const unknownPath = await fetch(`${gw().url}/v1/nope`, { headers: { origin: ALLOWED } });
    expect(unknownPath.status).toBe(404);
    expectAllowed(unknownPath);
  });

  it('puts them on a 429 with its retry headers, which the page may read', async () => {
    for (let i = 0; i < 2; i++) expect((await chat(gw().url, { origin: ALLOWED, authorization: 'Bearer tg-t' })).status).toBe(200);
    const res = await chat(gw().url, { origin: ALLOWED, authorization: 'Bearer tg-t' });
    expect(res.status).toBe(429);
    expectAllowed(res);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.headers.get('x-tollgate-limit')).toBe('user:tim:rate');
  });

  it('puts them on a stream, written past fastify, and on the Anthropic endpoint', async () => {
    const stream = await chat(gw().url, { origin: ALLOWED, authorization: 'Bearer tg-a' }, { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expectAllowed(stream);
    expect(await stream.text()).toContain('data: [DONE]');
    const messages = await fetch(`${gw().url}/v1/messages`, {
      method: 'POST',
      headers: { origin: ALLOWED, 'x-api-key': 'tg-a', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(messages.status).toBe(200);
    expectAllowed(messages);
    expect(messages.headers.get('request-id')).toMatch(/^req_/);
  });

  it('leaves the admin API, /metrics, /healthz and the dashboard same-origin', async () => {
    for (const path of ['/healthz', '/dashboard', '/api/tokens/dashboard', '/metrics']) {
      const res = await fetch(`${gw().url}${path}`, { headers: { origin: ALLOWED } });
      expect(corsHeadersOf(res), path).toEqual([]);
      const pre = await preflight(gw().url, ALLOWED, path, 'GET');
      // Not the preflight's 204: a 405 where the path is served (it takes GET), a 404 where it is not.
      expect(pre.status, path).toBe(path === '/healthz' ? 405 : 404);
      expect(corsHeadersOf(pre), path).toEqual([]);
    }
  });
});

describe('CORS for any origin', () => {
  const gw = useTestGateway(config(', cors_origins: "*"'));

  it('answers every origin with `*`', async () => {
    const pre = await preflight(gw().url, OTHER);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expectAllowed(await chat(gw().url, { origin: OTHER, authorization: 'Bearer tg-a' }), '*');
  });
});

describe('CORS off (the default)', () => {
  const gw = useTestGateway(config(''));

  it('sends no CORS header and answers OPTIONS with a 405 (the endpoint takes POST)', async () => {
    const pre = await preflight(gw().url, ALLOWED);
    expect(pre.status).toBe(405);
    expect(pre.headers.get('allow')).toBe('POST');
    expect(((await pre.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    expect(corsHeadersOf(pre)).toEqual([]);
    const call = await chat(gw().url, { origin: ALLOWED, authorization: 'Bearer tg-a' });
    expect(call.status).toBe(200);
    expect(corsHeadersOf(call)).toEqual([]);
    expect(call.headers.get('vary')).toBeNull();
    // No hook at all on the hot path.
    expect(gw().app.hasPlugin('@fastify/cors')).toBe(false);
  });
});

describe('CORS with a list changed by a reload', () => {
  it('follows the gateway in use: a new origin is allowed, a removed one refused, an empty list turns CORS off', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 21, 12));
    const store = new MemoryCounterStore(clock, 'UTC');
    const load = (server: string): Gateway => new Gateway(loadPolicy([writeConfig(config(server))], {}), store, clock);
    let current = load(`, cors_origins: ["${ALLOWED}"]`);
    const app = buildServer({ gateway: () => current, maxBodyBytes: 1 << 20 });
    const url = await listenLocal(app);
    try {
      expect((await preflight(url, ALLOWED)).status).toBe(204);
      current = load(`, cors_origins: ["${OTHER}"]`); // what a reload does
      expect((await preflight(url, ALLOWED)).status).toBe(405);
      expect((await preflight(url, OTHER)).headers.get('access-control-allow-origin')).toBe(OTHER);
      current = load('');
      const pre = await preflight(url, OTHER);
      expect(pre.status).toBe(405);
      expect(corsHeadersOf(pre)).toEqual([]);
      expect(corsHeadersOf(await chat(url, { origin: OTHER, authorization: 'Bearer tg-a' }))).toEqual([]);
    } finally {
      await closeApp(app);
      await current.close();
    }
  });
});
