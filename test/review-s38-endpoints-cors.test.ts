// README "Browser clients (CORS)": "Every answer to a listed origin, errors, 429s and streams included,
// carries Access-Control-Allow-Origin". Two answers on /v1/ paths whose request head was read (so the
// origin is known) are written past fastify's hooks and carried none, so a page's fetch failed with an
// opaque CORS error instead of reading the gateway's error: a path with a `%` not followed by two hex digits
// (browsers send such a path as written: the URL parser leaves a lone `%` alone) and the 408 of a body that
// did not arrive in time (a slow upload). Found by a QA pass against `tollgate serve` (session 38); both
// now carry the header (cors.ts corsHeadersFor), and such a path's preflight is answered 204.
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { Gateway } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { ManualClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { writeConfig } from './helpers/processes.js';

const ORIGIN = 'https://tools.example.com';
const REQUEST_TIMEOUT_MS = 400;
let app: FastifyInstance;
let gateway: Gateway;
let url: string;

beforeAll(async () => {
  const policy = loadPolicy([writeConfig(`
server: {cors_origins: ["${ORIGIN}"]}
providers: {m: {type: mock}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: m/gpt-4o}, {model_id: claude, model: m/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-k, project: p}]
`)], process.env);
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 12));
  gateway = new Gateway(policy, new MemoryCounterStore(clock, 'UTC'), clock);
  app = buildServer({ gateway: () => gateway, maxBodyBytes: undefined, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  url = await listenLocal(app);
});
afterAll(async () => {
  await closeApp(app);
  await gateway.close();
});

/** Writes `bytes` on a new connection and reads until the gateway closes it (or 5 s). */
function raw(bytes: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(url).port), '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('close', () => resolve({ head: text.slice(0, text.indexOf('\r\n\r\n')), body: text.slice(text.indexOf('\r\n\r\n') + 4) }));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(new Error(`no answer; got: ${text}`)), 5000);
  });
}

describe('answers to a listed origin written outside fastify\'s hooks', () => {
  // The other refusals answered before a handler runs, a 405 (with its Allow) and a 415, carry it too.
  it('a 405 for a wrong method and a 415 for an unknown Content-Encoding carry it, Allow and Accept-Encoding readable', async () => {
    const wrongMethod = await fetch(`${url}/v1/chat/completions`, { headers: { origin: ORIGIN, authorization: 'Bearer tg-k' } });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(wrongMethod.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const zstd = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { origin: ORIGIN, authorization: 'Bearer tg-k', 'content-type': 'application/json', 'content-encoding': 'zstd' },
      body: '{}',
    });
    expect(zstd.status).toBe(415);
    expect(await zstd.json()).toMatchObject({ error: { code: 'unsupported_encoding', type: 'invalid_request_error', param: null } });
    expect(zstd.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  });

  // src/proxy/framework-errors.ts answers fastify's FST_ERR_BAD_URL before the @fastify/cors hook runs.
  it('a path with a bad % escape: its preflight is a 204 and its 400 carries the header', async () => {
    const res = await fetch(`${url}/v1/responses/resp_%ZZ`, { headers: { origin: ORIGIN, authorization: 'Bearer tg-k' } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_request' } });
    const preflight = await fetch(`${url}/v1/responses/resp_%ZZ`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect([res.headers.get('access-control-allow-origin'), preflight.headers.get('access-control-allow-origin')]).toEqual([ORIGIN, ORIGIN]);
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization');
    expect(res.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  // The 408 request_timeout of a body that stopped arriving (its head, with Origin, was read: the error is
  // in the endpoint's format, Anthropic's on /v1/messages) is written on the socket (client-errors.ts).
  it('the 408 of a body that never finished carries the header', async () => {
    const heads = await Promise.all(['POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer tg-k\r\n', 'POST /v1/messages HTTP/1.1\r\nx-api-key: tg-k\r\n'].map(async (start) => {
      const { head } = await raw(`${start}Host: x\r\nOrigin: ${ORIGIN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":`);
      expect(head).toMatch(/^HTTP\/1\.1 408 /);
      return head;
    }));
    for (const head of heads) expect(head.toLowerCase()).toContain(`\r\naccess-control-allow-origin: ${ORIGIN}`);
  });
});
