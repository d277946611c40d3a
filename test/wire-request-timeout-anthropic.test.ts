// A request whose body never finishes is answered 408 by the HTTP server's own timeout, before any route
// runs. Its request line and headers had arrived, so the API it speaks is known: on /v1/messages (and on
// /v1/models with `anthropic-version`) the answer was still OpenAI's `{"error": {...}}` with `x-request-id`,
// so the Anthropic SDK's `err.requestID` (read from `request-id`) was null and the body was in neither shape
// it documents. Now it is Anthropic's `{"type":"error","error":{...},"request_id"}` with `request-id`.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadPolicy } from '../src/config/index.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { Gateway } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { ManualClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { writeConfig } from './helpers/processes.js';

const REQUEST_TIMEOUT_MS = 300;
let app: FastifyInstance;
let gateway: Gateway;
let port: number;

beforeAll(async () => {
  const policy = loadPolicy([writeConfig(`
providers: {claude: {type: anthropic, base_url: "http://127.0.0.1:9", api_key: sk-up}}
users: {t: {daily_limit: 1000000}}
routes: {main: {chat_models: [{model_id: claude, model: claude/claude-sonnet-4-20250514}]}}
keys: [{id: alice, key: tg-alice, user: alice, tier: t}]
`)], process.env);
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 12));
  gateway = new Gateway(policy, new MemoryCounterStore(clock, 'UTC'), clock);
  app = buildServer({ gateway: () => gateway, maxBodyBytes: undefined, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  port = Number(new URL(await listenLocal(app)).port);
});
afterAll(async () => {
  await closeApp(app);
  await gateway.close();
});

/** Sends a request head and part of its body, then waits for the server to answer and close. */
function halfSent(head: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${head}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":`));
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('close', () => resolve({ head: text.slice(0, text.indexOf('\r\n\r\n')), body: text.slice(text.indexOf('\r\n\r\n') + 4) }));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(new Error(`no answer; got: ${text}`)), 5000);
  });
}

describe('a 408 for a body that never finishes', () => {
  it("is Anthropic's error, with request-id, on /v1/messages", async () => {
    const { head, body } = await halfSent('POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: tg-alice\r\nanthropic-version: 2023-06-01\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    const id = /\r\nrequest-id: (req_\S+)/i.exec(head)?.[1];
    expect(id).toBeDefined();
    expect(head).not.toMatch(/\r\nx-request-id:/i);
    expect(JSON.parse(body)).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('did not arrive in full') }, request_id: id });
  });

  it("is Anthropic's on /v1/messages/count_tokens too", async () => {
    const { head, body } = await halfSent('POST /v1/messages/count_tokens?beta=true HTTP/1.1\r\nHost: x\r\nx-api-key: tg-alice\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it("stays OpenAI's on the OpenAI endpoints", async () => {
    const { head, body } = await halfSent('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tg-alice\r\nanthropic-version: 2023-06-01\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 408 /);
    expect(head).toMatch(/\r\nx-request-id: req_/i);
    expect(JSON.parse(body)).toMatchObject({ error: { type: 'invalid_request_error', code: 'request_timeout', param: null } });
  });

  it("stays OpenAI's when the request's head itself could not be read, whatever its path", async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'));
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toMatch(/\r\nx-request-id: req_/i);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'malformed_http' } });
  });
});
