// Input the gateway must refuse cleanly, in the endpoint's error format, with nothing charged and
// nothing sent upstream; and compressed bodies, which it must read. Found by an audit that threw
// malformed requests at every endpoint.
import net from 'node:net';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadPolicy } from '../src/config/index.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { Gateway } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { MAX_JSON_CONTAINERS } from '../src/proxy/json-containers.js';
import { ManualClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { writeConfig } from './helpers/processes.js';
import { until } from './helpers/until.js';

const REQUEST_TIMEOUT_MS = 400;
const MAX_BODY = 64 * 1024;
// After an answer sent before the body arrived, the rest is read and dropped within these (unread-body.ts).
const LINGER = { totalMs: 3000, idleMs: 150, maxBytes: 4 * 1024 * 1024 };
let upstream: MockUpstream;
let app: FastifyInstance;
let gateway: Gateway;
let url: string;
let port: number;

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 5 });
  const upstreamUrl = await upstream.listen(0, '127.0.0.1');
  const policy = loadPolicy([writeConfig(`
server: {max_body_bytes: ${MAX_BODY}}
providers:
  gpt: {type: openai, base_url: "${upstreamUrl}/v1", api_key: sk-up}
  claude: {type: anthropic, base_url: "${upstreamUrl}", api_key: sk-up}
users:
  t: {daily_limit: 1000000}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: gpt/gpt-4o}
      - {model_id: claude, model: claude/claude-sonnet-4-20250514}
keys: [{id: alice, key: tg-alice, user: alice, tier: t}]
`)], process.env);
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 12));
  gateway = new Gateway(policy, new MemoryCounterStore(clock, 'UTC'), clock);
  app = buildServer({ gateway: () => gateway, maxBodyBytes: MAX_BODY, requestTimeoutMs: REQUEST_TIMEOUT_MS, lingerLimits: LINGER });
  url = await listenLocal(app);
  port = Number(new URL(url).port);
});
afterAll(async () => {
  await closeApp(app);
  await gateway.close();
  await upstream.close();
});
beforeEach(() => upstream.clearRequests());

const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(url + path, { method: 'POST', headers: { authorization: 'Bearer tg-alice', 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : Uint8Array.from(body) });
const hello = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] };
const aliceUsed = async (): Promise<number> => (await gateway.engine.store.peek(gateway.engine.applicable.for(gateway.keys.resolve('tg-alice')!, gateway.routes.resolve(gateway.keys.resolve('tg-alice')!, 'gpt-4o', 'chat')!).map((l) => l.item)))[0].used;

/** Writes raw bytes on a new connection; resolves to what came back before the server closed it, and when. */
function raw(bytes: string, waitMs = 5000): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => resolve({ text, ms: Date.now() - started }));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${waitMs} ms; got: ${text}`));
    }, waitMs);
  });
}

describe('requests the HTTP parser refuses', () => {
  it('answers a request without a key with a 401 before reading its body, and closes the connection', async () => {
    const { text, ms } = await raw('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":');
    expect(text).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(text.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(JSON.parse(text.split('\r\n\r\n')[1])).toMatchObject({ error: { code: 'missing_api_key' } });
    expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS);
  });

  it('closes a request whose body never finishes with a 408', async () => {
    const { text, ms } = await raw(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tg-alice\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":`);
    expect(text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(text).toMatch(/\r\nx-request-id: req_/);
    expect(JSON.parse(text.split('\r\n\r\n')[1])).toMatchObject({ error: { type: 'invalid_request_error', code: 'request_timeout' } });
    expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1500);
    expect(upstream.requests()).toHaveLength(0);
  });

  it('answers a malformed request (two Content-Length headers) in OpenAI format with a request id', async () => {
    const { text } = await raw('POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}');
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(text).toMatch(/\r\nx-request-id: req_/);
    expect(JSON.parse(text.split('\r\n\r\n')[1])).toMatchObject({ error: { code: 'malformed_http', message: expect.stringContaining('Content-Length') } });
  });
});

describe('answers sent before the body has arrived', () => {
  it("answer 'Expect: 100-continue' with the final status when the body is not wanted, and with 100 when it is", async () => {
    const head = (key: string, length: number): string =>
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${length}\r\n\r\n`;
    const tooLarge = await raw(head('tg-alice', MAX_BODY + 1));
    expect(tooLarge.text).toMatch(/^HTTP\/1\.1 413 /);
    const wrongKey = await raw(head('tg-nobody', 100));
    expect(wrongKey.text).toMatch(/^HTTP\/1\.1 401 /);

    const body = JSON.stringify(hello);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(head('tg-alice', Buffer.byteLength(body)).replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')));
      let text = '';
      socket.on('data', (d) => {
        // The body goes only once the gateway asked for it.
        if (text === '' && d.toString().startsWith('HTTP/1.1 100 Continue\r\n\r\n')) socket.write(body);
        text += d.toString();
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(upstream.requests()).toHaveLength(1);
  });

  // Half-open clients below: the gateway ending its side does not end theirs, so only the gateway closes.
  it('close the connection once the client has sent nothing for the idle bound', async () => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":');
    const answered = await new Promise<number>((resolve) => socket.once('data', () => resolve(Date.now())));
    const connections = (): Promise<number> => new Promise((resolve, reject) => app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    expect(await connections()).toBe(1); // answered, still reading what may come
    await until(async () => (await connections()) === 0, 3000);
    expect(Date.now() - answered).toBeGreaterThanOrEqual(LINGER.idleMs - 20);
    socket.destroy();
  });

  it('read and drop no more than the bounds allow before closing', async () => {
    // A client that goes on sending after its 401: the connection is closed once LINGER.maxBytes more have come.
    const sent = await new Promise<{ bytes: number; answer: string }>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      let answer = '';
      let bytes = 0;
      const chunk = Buffer.alloc(64 * 1024, 'x');
      socket.on('data', (d) => (answer += d.toString()));
      const pump = (): void => {
        while (!socket.destroyed && bytes < 64 * LINGER.maxBytes) {
          bytes += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      socket.on('connect', () => {
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tg-nobody\r\nContent-Type: application/json\r\nContent-Length: ${64 * LINGER.maxBytes}\r\n\r\n`);
        pump();
      });
      socket.on('error', () => {}); // the reset the client's writes meet once the gateway closed
      socket.on('close', () => resolve({ bytes, answer }));
    });
    expect(sent.answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(sent.bytes).toBeLessThan(16 * LINGER.maxBytes);
  });
});

describe('bodies', () => {
  it('answers a body sent under another content type than JSON (text/plain included) by asking for application/json', async () => {
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/xml', 'application/x-www-form-urlencoded']) {
      const res = await post('/v1/chat/completions', JSON.stringify(hello), { 'content-type': type });
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toContain('Content-Type: application/json');
    }
    expect(upstream.requests()).toHaveLength(0);
  });

  it('refuses bytes that are not UTF-8 instead of replacing them and forwarding the changed prompt', async () => {
    const body = Buffer.concat([Buffer.from('{"model":"gpt-4o","messages":[{"role":"user","content":"caf'), Buffer.from([0xe9]), Buffer.from('"}]}')]);
    const res = await post('/v1/chat/completions', body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json', message: expect.stringContaining('not valid UTF-8') } });
    expect(upstream.requests()).toHaveLength(0);
  });

  it('reads gzip and brotli bodies, holds them to the limit once inflated, and refuses encodings it cannot read', async () => {
    const gz = await post('/v1/chat/completions', gzipSync(JSON.stringify(hello)), { 'content-encoding': 'gzip' });
    expect(gz.status).toBe(200);
    const br = await post('/v1/chat/completions', brotliCompressSync(JSON.stringify(hello)), { 'content-encoding': 'br' });
    expect(br.status).toBe(200);
    const sent = upstream.requests();
    expect(sent.map((r) => (r.body as { messages: unknown }).messages)).toEqual([hello.messages, hello.messages]);
    expect(sent.every((r) => r.headers['content-encoding'] === undefined)).toBe(true);

    // 100 KB of spaces inflates past the 64 KB limit from a few hundred bytes.
    const bomb = gzipSync(`{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]${' '.repeat(100_000)}}`);
    expect(bomb.length).toBeLessThan(1000);
    const tooBig = await post('/v1/chat/completions', bomb, { 'content-encoding': 'gzip' });
    expect(tooBig.status).toBe(413);
    expect((await tooBig.json()).error.code).toBe('body_too_large');

    const zstd = await post('/v1/chat/completions', JSON.stringify(hello), { 'content-encoding': 'zstd' });
    expect(zstd.status).toBe(415);
    expect(zstd.headers.get('accept-encoding')).toBe('gzip, deflate, br, identity');
    // A plain body that says it is gzip is not gzip.
    const liar = await post('/v1/chat/completions', JSON.stringify(hello), { 'content-encoding': 'gzip' });
    expect(liar.status).toBe(400);
    expect(upstream.requests()).toHaveLength(2);
  });

  it('refuses JSON nested too deeply to forward with a 400 (not a 502 the SDKs retry), and charges nothing', async () => {
    const before = await aliceUsed();
    const deep = `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}],"foo":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const res = await post('/v1/chat/completions', deep);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_request', message: expect.stringContaining('nested too deeply') } });
    expect(upstream.requests()).toHaveLength(0);
    expect(await aliceUsed()).toBe(before);
  });

  it('refuses a body of more objects and arrays than any request needs before parsing it (gzip included)', async () => {
    // This test's usual server takes 64 KiB; the bodies here are larger.
    const big = buildServer({ gateway: () => gateway, maxBodyBytes: 1 << 20 });
    const bigUrl = await listenLocal(big);
    try {
      const send = (body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> =>
        fetch(bigUrl + '/v1/chat/completions', { method: 'POST', headers: { authorization: 'Bearer tg-alice', 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : Uint8Array.from(body) });
      const before = await aliceUsed();
      const many = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"foo":[${'[],'.repeat(MAX_JSON_CONTAINERS)}[]]}`;
      for (const res of [await send(many), await send(gzipSync(many), { 'content-encoding': 'gzip' })]) {
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ error: { code: 'invalid_request', message: expect.stringContaining(`more than ${MAX_JSON_CONTAINERS} objects and arrays`) } });
      }
      expect(upstream.requests()).toHaveLength(0);
      expect(await aliceUsed()).toBe(before);
      // Brackets inside strings are text, not structure: as many in a prompt is an ordinary call.
      const res = await send(JSON.stringify({ ...hello, messages: [{ role: 'user', content: '['.repeat(MAX_JSON_CONTAINERS + 1) }] }));
      expect(res.status).toBe(200);
      expect(upstream.requests()).toHaveLength(1);
    } finally {
      await closeApp(big);
    }
  });
});

describe('fields the gateway relies on', () => {
  it("checks 'n' (1 to 128) and 'stream_options' (an object, its include_usage a boolean) instead of mangling them", async () => {
    for (const [field, value] of [['n', 0], ['n', 200], ['n', 1e308], ['stream_options', 'abc']] as const) {
      const res = await post('/v1/chat/completions', JSON.stringify({ ...hello, stream: true, [field]: value }));
      expect(res.status, `${field}=${value}`).toBe(400);
      expect((await res.json()).error.param).toBe(field);
    }
    // The gateway asks for usage itself: a "yes" it read as false would go upstream as true, where OpenAI refuses it.
    for (const endpoint of ['/v1/chat/completions', '/v1/completions']) {
      const body = endpoint === '/v1/completions' ? { model: 'gpt-3.5-turbo-instruct', prompt: 'hi', max_tokens: 5 } : hello;
      const res = await post(endpoint, JSON.stringify({ ...body, stream: true, stream_options: { include_usage: 'yes' } }));
      expect(res.status, endpoint).toBe(400);
      expect((await res.json()).error).toMatchObject({ param: 'stream_options.include_usage', message: "'stream_options.include_usage' must be a boolean." });
    }
    expect(upstream.requests()).toHaveLength(0);
    const allowed = await post('/v1/chat/completions', JSON.stringify({ ...hello, stream: true, stream_options: { include_usage: null } }));
    expect(allowed.status).toBe(200);
  });

  it("checks the Responses API's previous_response_id and conversation: of another type they went upstream past the ownership checks", async () => {
    const turn = { model: 'gpt-4o', input: 'hello' };
    for (const [field, value] of [['previous_response_id', 5], ['previous_response_id', ''], ['previous_response_id', ['resp_1']], ['conversation', 5], ['conversation', {}], ['conversation', { id: 7 }], ['conversation', '']] as const) {
      const res = await post('/v1/responses', JSON.stringify({ ...turn, [field]: value }));
      expect(res.status, `${field}=${JSON.stringify(value)}`).toBe(400);
      expect((await res.json()).error.param).toBe(field);
    }
    expect(upstream.requests()).toHaveLength(0);
    expect((await post('/v1/responses', JSON.stringify({ ...turn, previous_response_id: null, conversation: null }))).status).toBe(200);
  });

  it('sends upstream the body it read when a key is written twice, never the text an upstream could read otherwise', async () => {
    // The gateway reads the last of two keys (as JSON.parse does) and would reserve 5 tokens; an upstream
    // parser that keeps the first would generate up to 4000 if the client's bytes went on unchanged.
    const text = '{"model":"gpt-4o","max_tokens":4000,"max_tokens":5,"messages":[{"role":"user","content":"ignored","content":"hello"}]}';
    const res = await post('/v1/chat/completions', text);
    expect(res.status).toBe(200);
    expect((await res.json()).usage.completion_tokens).toBe(5);
    const [sent] = upstream.requests();
    expect(sent.text).toBe(JSON.stringify({ model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user', content: 'hello' }] }));
    // Without duplicates, the client's bytes go on as they came (spacing included).
    upstream.clearRequests();
    const plain = '{"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "hello"}]}';
    expect((await post('/v1/chat/completions', plain)).status).toBe(200);
    expect(upstream.requests()[0].text).toBe(plain);
  });

  it('refuses tool calls that are not objects on the way to Claude (it crashed with a 500), and fields it would drop unread', async () => {
    const toClaude = (extra: object) => post('/v1/chat/completions', JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'hi' }], ...extra }));
    const nullCall = await post('/v1/chat/completions', JSON.stringify({ model: 'claude', messages: [{ role: 'assistant', tool_calls: [null] }] }));
    expect(nullCall.status).toBe(400);
    expect((await nullCall.json()).error).toMatchObject({ type: 'invalid_request_error', param: 'messages[0].tool_calls' });
    expect((await toClaude({ stop: 5 })).status).toBe(400);
    expect((await toClaude({ tools: 'x' })).status).toBe(400);
    expect(upstream.requests()).toHaveLength(0);
  });

  it('count_tokens refuses what /v1/messages refuses: a model it does not serve, messages that are not messages', async () => {
    const count = (body: object) => post('/v1/messages/count_tokens', JSON.stringify(body), { 'anthropic-version': '2023-06-01' });
    const gpt = await count({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(gpt.status).toBe(400);
    expect(await gpt.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/has no \/v1\/messages endpoint/) } });
    const junk = await count({ model: 'claude', messages: [1, null, 'x'] });
    expect(junk.status).toBe(400);
    expect((await junk.json()).error.message).toMatch(/messages\.0/);
    expect(upstream.requests()).toHaveLength(0);
  });

  it('answers an unknown method on /v1/models in the format its headers name', async () => {
    const res = await fetch(`${url}/v1/models`, { method: 'POST', headers: { 'x-api-key': 'tg-alice', 'anthropic-version': '2023-06-01' } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'Invalid method for URL (POST /v1/models): this endpoint takes GET.' } });
  });
});
