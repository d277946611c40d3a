// Review (s40, conn): HTTP/1.1 at the edges of the gateway's connection handling, on raw sockets: pipelining,
// request smuggling shapes (duplicate Content-Length, Content-Length with Transfer-Encoding), chunked bodies
// over the limit, huge and many headers, absolute-form request targets, upgrade attempts, HEAD and OPTIONS on
// every /v1 route, keep-alive, and what the gateway writes on a socket whose answer is already under way.
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadPolicy } from '../src/config/index.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { Gateway, type CallRecord } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { systemClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { rawExchange, type RawExchange } from './helpers/raw-exchange.js';
import { writeConfig } from './helpers/processes.js';
import { until } from './helpers/until.js';

const REQUEST_TIMEOUT_MS = 800;
const MAX_BODY = 65536;
const KEY = 'tg-conn-http';
let upstream: MockUpstream;
let upstreamHost: string;
let app: FastifyInstance;
let gateway: Gateway;
let store: MemoryCounterStore;
let port: number;
const calls: CallRecord[] = [];

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 20 });
  const mockUrl = await upstream.listen(0, '127.0.0.1');
  upstreamHost = new URL(mockUrl).host;
  const policy = loadPolicy([writeConfig(`
server: {max_body_bytes: ${MAX_BODY}}
providers:
  gpt: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-up}
  claude: {type: anthropic, base_url: "${mockUrl}", api_key: sk-up}
projects: {p: {daily_limit: 100000000}}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: gpt/gpt-4o}
      - {model_id: claude, model: claude/claude-sonnet-4-20250514}
keys: [{id: k, key: ${KEY}, project: p}]
`)], process.env);
  store = new MemoryCounterStore(systemClock, 'UTC');
  gateway = new Gateway(policy, store, systemClock);
  gateway.onCall((r) => calls.push(r));
  app = buildServer({ gateway: () => gateway, maxBodyBytes: MAX_BODY, requestTimeoutMs: REQUEST_TIMEOUT_MS, lingerLimits: { totalMs: 2000, idleMs: 200 } });
  port = Number(new URL(await listenLocal(app)).port);
});
afterAll(async () => {
  if (app) await closeApp(app);
  await gateway?.close();
  await upstream?.close();
});
beforeEach(() => upstream.clearRequests());

const CHAT = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
const STREAM = JSON.stringify({ model: 'gpt-4o', stream: true, mock_chunk_delay_ms: 100, messages: [{ role: 'user', content: 'hi' }] });
const HEAD_LINES = `Host: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\n`;
const post = (path: string, body: string, extra = ''): string => `POST ${path} HTTP/1.1\r\n${HEAD_LINES}Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

const raw = (parts: Array<string | number> | string, waitMs = 4000): Promise<RawExchange> => rawExchange(port, parts, waitMs);
const statuses = (text: string): number[] => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
const errorCode = (text: string): string | undefined => /"code":"([a-z_]+)"/.exec(text)?.[1];

describe('pipelining', () => {
  it('two calls in one write on a keep-alive connection: both answered, in order, each forwarded once', async () => {
    const before = calls.length;
    const r = await raw(post('/v1/chat/completions', CHAT) + post('/v1/messages', JSON.stringify({ model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }), 'Connection: close\r\n'));
    expect(r.closed).toBe(true);
    expect(statuses(r.text)).toEqual([200, 200]);
    const [first, second] = r.text.split(/(?=HTTP\/1\.1 200 )/);
    expect(first).toContain('"object":"chat.completion"');
    expect(second).toContain('"type":"message"');
    expect(upstream.requests().map((q) => q.path)).toEqual(['/v1/chat/completions', '/v1/messages']);
    expect(calls.slice(before).map((c) => c.status)).toEqual([200, 200]);
  });

  it('a HEAD pipelined before a GET: the HEAD answer has no body, so the next answer is read intact', async () => {
    const r = await raw(`HEAD /v1/models HTTP/1.1\r\n${HEAD_LINES}\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(statuses(r.text)).toEqual([200, 200]);
    const firstHead = r.text.split('\r\n\r\n')[0]!;
    expect(Number(/content-length: (\d+)/i.exec(firstHead)?.[1])).toBeGreaterThan(0); // the GET's length, announced
    expect(r.text.split('\r\n\r\n')[1]).toMatch(/^HTTP\/1\.1 200 /); // and no body after it
    expect(r.text.endsWith('{"status":"ok"}')).toBe(true);
  });
});

describe('request framing the parser must refuse: a 400 malformed_http, nothing upstream', () => {
  const chunked = `${CHAT.length.toString(16)}\r\n${CHAT}\r\n0\r\n\r\n`;
  const start = `POST /v1/chat/completions HTTP/1.1\r\n${HEAD_LINES}`;
  const cases: Record<string, string> = {
    'two Content-Length headers (same value)': `${start}Content-Length: ${CHAT.length}\r\nContent-Length: ${CHAT.length}\r\n\r\n${CHAT}`,
    'two Content-Length headers (different values)': `${start}Content-Length: 5\r\nContent-Length: ${CHAT.length}\r\n\r\n${CHAT}`,
    'a Content-Length list': `${start}Content-Length: ${CHAT.length}, ${CHAT.length}\r\n\r\n${CHAT}`,
    'a signed Content-Length': `${start}Content-Length: +${CHAT.length}\r\n\r\n${CHAT}`,
    'Content-Length with Transfer-Encoding: chunked': `${start}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`,
    'Transfer-Encoding: chunked twice': `${start}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`,
    'Transfer-Encoding folded over two lines': `${start}Transfer-Encoding:\r\n chunked\r\n\r\n${chunked}`,
    'a space before the colon': `${start}Transfer-Encoding : chunked\r\n\r\n${chunked}`,
    'an unknown transfer coding': `${start}Transfer-Encoding: xchunked\r\n\r\n${chunked}`,
    'lines ending in LF alone': `${start.replace(/\r\n/g, '\n')}Content-Length: ${CHAT.length}\n\n${CHAT}`,
  };
  for (const [name, bytes] of Object.entries(cases)) {
    it(name, async () => {
      const r = await raw(bytes);
      expect(r.closed).toBe(true);
      expect(statuses(r.text)).toEqual([400]);
      expect(errorCode(r.text)).toBe('malformed_http');
      expect(upstream.requests()).toHaveLength(0);
    });
  }
});

describe('bodies and headers over the limits', () => {
  const big = JSON.stringify({ model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY + 100) }] });
  const chunkedBig = (path: string, body: string): string =>
    `POST ${path} HTTP/1.1\r\n${HEAD_LINES}Transfer-Encoding: chunked\r\n\r\n` + [...Array(Math.ceil(body.length / 4096)).keys()].map((i) => body.slice(i * 4096, i * 4096 + 4096)).map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n';

  it('a chunked body over the limit (no Content-Length to refuse it on): 413 body_too_large, nothing upstream, no call', async () => {
    const before = calls.length;
    const r = await raw(chunkedBig('/v1/chat/completions', big));
    expect(statuses(r.text)).toEqual([413]);
    expect(errorCode(r.text)).toBe('body_too_large');
    expect(r.closed).toBe(true);
    expect(upstream.requests()).toHaveLength(0);
    expect(calls.length).toBe(before);
  });

  it("the same on /v1/messages: Anthropic's request_too_large", async () => {
    const r = await raw(chunkedBig('/v1/messages', big.replace('gpt-4o', 'claude')));
    expect(statuses(r.text)).toEqual([413]);
    expect(JSON.parse(r.text.split('\r\n\r\n')[1]!)).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
    expect(upstream.requests()).toHaveLength(0);
  });

  it('headers past 16 KB: 431 headers_too_large, the connection closed', async () => {
    const r = await raw(`GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(statuses(r.text)).toEqual([431]);
    expect(errorCode(r.text)).toBe('headers_too_large');
    expect(r.closed).toBe(true);
  });

  it('thousands of small headers: those past the 2000 Node keeps are dropped, so a key after them is not seen (a 401, nothing served)', async () => {
    const r = await raw(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${'a: 1\r\n'.repeat(2100)}Authorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${CHAT.length}\r\n\r\n${CHAT}`);
    expect(statuses(r.text)).toEqual([401]);
    expect(upstream.requests()).toHaveLength(0);
  });
});

describe('what a request names that the gateway must not follow', () => {
  it('an absolute-form target naming another host is served from the configured upstream only, under its own Host', async () => {
    const r = await raw(`POST http://evil.example:9999/v1/chat/completions HTTP/1.1\r\nHost: evil.example:9999\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${CHAT.length}\r\nConnection: close\r\n\r\n${CHAT}`);
    expect(statuses(r.text)).toEqual([200]);
    const sent = upstream.requests();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.path).toBe('/v1/chat/completions');
    expect(sent[0]!.headers.host).toBe(upstreamHost);
    expect(JSON.stringify(sent[0]!.headers)).not.toContain('evil.example');
  });

  it('a WebSocket upgrade is not taken up: a plain answer, no 101, and the connection serves the next request as HTTP/1.1', async () => {
    const text = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () =>
        s.write(`GET /v1/models HTTP/1.1\r\n${HEAD_LINES}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
      );
      let got = '';
      let sent = false;
      s.on('data', (d) => {
        got += d.toString();
        // Not pipelined: after an Upgrade request a client waits for the answer (RFC 9110 §7.8).
        if (!sent && got.includes('"object":"list"')) {
          sent = true;
          s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        }
      });
      s.on('error', () => {});
      s.on('close', () => resolve(got));
      setTimeout(() => s.destroy(), 3000);
    });
    expect(statuses(text)).toEqual([200, 200]);
    expect(text).not.toMatch(/\r\nupgrade:/i);
    expect(text.endsWith('{"status":"ok"}')).toBe(true);
  });

  it('a call asking for an h2c upgrade is served as HTTP/1.1 and forwarded once', async () => {
    const r = await raw(post('/v1/chat/completions', CHAT, 'Connection: Upgrade, close\r\nUpgrade: h2c\r\n'));
    expect(statuses(r.text)).toEqual([200]);
    expect(upstream.requests()).toHaveLength(1);
  });
});

describe('HEAD and OPTIONS on every /v1 route (no CORS origins configured)', () => {
  // Each path with the methods the gateway serves on it.
  // HEAD rides along with GET only on /v1/models (the retrieval routes turn it off: it would fetch from the provider).
  const HEAD_SERVED = new Set(['/v1/models', '/v1/models/gpt-4o']);
  const ROUTES: Array<[string, string]> = [
    ['/v1/chat/completions', 'POST'],
    ['/v1/completions', 'POST'],
    ['/v1/embeddings', 'POST'],
    ['/v1/responses', 'POST'],
    ['/v1/responses/resp_1', 'GET, DELETE'],
    ['/v1/responses/resp_1/cancel', 'POST'],
    ['/v1/responses/resp_1/input_items', 'GET'],
    ['/v1/conversations', 'POST'],
    ['/v1/conversations/conv_1', 'GET, POST, DELETE'],
    ['/v1/conversations/conv_1/items', 'GET, POST'],
    ['/v1/conversations/conv_1/items/item_1', 'GET, DELETE'],
    ['/v1/messages', 'POST'],
    ['/v1/messages/count_tokens', 'POST'],
    ['/v1/models', 'GET'],
    ['/v1/models/gpt-4o', 'GET'],
  ];
  for (const [path, allow] of ROUTES) {
    it(`${path}: HEAD ${HEAD_SERVED.has(path) ? '200 without a body' : '405'}, OPTIONS 405 naming ${allow}; nothing upstream`, async () => {
      const head = await raw(`HEAD ${path} HTTP/1.1\r\n${HEAD_LINES}Connection: close\r\n\r\n`);
      const options = await raw(`OPTIONS ${path} HTTP/1.1\r\n${HEAD_LINES}Connection: close\r\n\r\n`);
      const headHead = head.text.split('\r\n\r\n')[0]!;
      expect(head.text.endsWith('\r\n\r\n')).toBe(true); // no body after the head
      if (HEAD_SERVED.has(path)) {
        expect(statuses(head.text)).toEqual([200]);
      } else {
        expect(statuses(head.text)).toEqual([405]);
        expect(/\r\nallow: ([^\r]*)/i.exec(headHead)?.[1]).toBe(allow);
      }
      expect(statuses(options.text)).toEqual([405]);
      expect(/\r\nallow: ([^\r]*)/i.exec(options.text)?.[1]).toBe(allow);
      expect(errorCode(options.text) ?? /"type":"invalid_request_error"/.exec(options.text)?.[0]).toBeTruthy();
      expect(upstream.requests()).toHaveLength(0);
    });
  }
});

describe('keep-alive', () => {
  it('an idle keep-alive connection is given a timeout after each answer (streams included): 76 s, past the advertised 75', async () => {
    const sockets: net.Socket[] = [];
    const onConnection = (s: net.Socket): void => void sockets.push(s);
    app.server.on('connection', onConnection);
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => {});
    let text = '';
    client.on('data', (d) => (text += d.toString()));
    try {
      client.write(post('/v1/chat/completions', CHAT));
      await until(() => statuses(text).length === 1, 3000);
      expect(text).toMatch(/\r\nKeep-Alive: timeout=75\r\n/);
      await until(() => sockets.length === 1 && (sockets[0] as net.Socket & { timeout?: number }).timeout === 76_000, 2000);
      client.write(post('/v1/chat/completions', JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] })));
      await until(() => text.includes('[DONE]'), 3000);
      await until(() => (sockets[0] as net.Socket & { timeout?: number }).timeout === 76_000, 2000);
      expect(sockets).toHaveLength(1); // one connection served both
    } finally {
      app.server.off('connection', onConnection);
      client.destroy();
    }
  });

  // README "Endpoints": "A 401, a 413 on the announced Content-Length or any other answer sent before the body
  // has arrived closes the connection"; unread-body.ts: "Nothing changes for a request read in full." A GET has no
  // body: it has arrived in full with its head, and its keep-alive connection should stay open after an error
  // answer, as it does for GET /v1/responses/{unknown} (a 404 whose handler awaits first).
  // Seen: GET /v1/models with a wrong key (401), GET /v1/models/nope (404), GET /v1/nothing (404) and
  // GET /v1/chat/completions (405) each answered `connection: close` and the server closed the socket, so a
  // second request on it got nothing (fixed: a request without Content-Length or Transfer-Encoding has no
  // body, hasNoBody). Cause: closeAfterUnreadBody (src/proxy/unread-body.ts) read
  // `req.complete`, which Node sets only after the 'request' event returns for a body-less message
  // (on_message_complete runs after on_headers_complete's callback); answers decided synchronously inside that
  // event (the onRequest not-found hook, identify, a synchronous handler that throws) see `false`.
  it('a body-less GET refused at once (401, 404, 405) leaves its keep-alive connection open, as one refused later does', async () => {
    const second = (first: string): Promise<number[]> =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.write(first));
        let text = '';
        let sent = false;
        s.on('data', (d) => {
          text += d.toString();
          if (!sent && text.includes('\r\n\r\n')) {
            sent = true;
            setTimeout(() => !s.destroyed && s.writable && s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 100);
          }
        });
        s.on('error', () => {});
        s.on('close', () => resolve(statuses(text)));
        setTimeout(() => s.destroy(), 3000);
      });
    // The reference: refused after an await, the connection stays.
    expect(await second(`GET /v1/responses/resp_unknown HTTP/1.1\r\n${HEAD_LINES}\r\n`)).toEqual([404, 200]);
    expect({
      wrongKey: await second('GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tg-wrong\r\n\r\n'),
      unknownModel: await second(`GET /v1/models/nope HTTP/1.1\r\n${HEAD_LINES}\r\n`),
      unknownPath: await second('GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n'),
      wrongMethod: await second(`GET /v1/chat/completions HTTP/1.1\r\n${HEAD_LINES}\r\n`),
    }).toEqual({ wrongKey: [401, 200], unknownModel: [404, 200], unknownPath: [404, 200], wrongMethod: [405, 200] });
  });
});

describe('an unreadable request arriving while a stream is being answered on the same connection', () => {
  // The gateway's clientError handler (clientErrorAnswer, src/proxy/client-errors.ts) writes its error answer on
  // the socket whenever `socket.writable`, even when a response on that socket has already begun. A stream is
  // under way (chunked SSE frames); the client pipelines a next request that the parser refuses (a bad method:
  // 400), or one whose headers do not arrive in time (408). The gateway then writes
  // `HTTP/1.1 400 Bad Request\r\n...` (or 408) into the middle of the chunked body and destroys the socket: the
  // stream's framing is corrupted (RFC 9112 §7.1: a chunked body is only chunks), and a client reads garbage as a
  // chunk size. Node's own handler (lib/_http_server.js socketOnError) writes its 400 only when
  // `!socket._httpMessage || !socket._httpMessage._headerSent`; otherwise it only destroys the socket.
  // Seen: both cases below, the error answer after 3-9 SSE frames of a 200 text/event-stream answer (fixed:
  // answerStarted holds the error answer back, as Node does).
  // Expected: no second status line inside an answer already begun (the socket is just closed: the stream's
  // client sees it cut, and the call is settled as client_gone, which it already is).
  it('never gets an error answer written into the middle of the stream', async () => {
    const garbage = await raw([post('/v1/chat/completions', STREAM), 500, 'GARBAGE \x01\r\n\r\n'], 5000);
    const lateHead = await raw([post('/v1/chat/completions', STREAM) + 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'], 5000);
    expect(statuses(garbage.text)[0]).toBe(200);
    expect(statuses(lateHead.text)[0]).toBe(200);
    expect({ garbage: statuses(garbage.text), lateHead: statuses(lateHead.text) }).toEqual({ garbage: [200], lateHead: [200] });
  });

  it('the stream cut so is still settled as one whose client left, and no reservation stays open', async () => {
    const before = calls.length;
    await raw([post('/v1/chat/completions', STREAM), 500, 'GARBAGE \x01\r\n\r\n'], 5000);
    await until(() => calls.length > before, 3000);
    // Cut (499 client_gone, as today and as Node's own handler would leave it), or let run to its end: either way charged.
    const last = calls[calls.length - 1]!;
    expect([`499 client_gone`, `200 complete`]).toContain(`${last.status} ${last.streamEnd}`);
    expect(last.usage.output).toBeGreaterThan(0);
    expect(await store.openReservations()).toBe(0);
  });
});

describe('after everything above', () => {
  it('the counters equal the usage every call was settled with, and no reservation is open', async () => {
    const principal = gateway.keys.resolve(KEY)!;
    const items = gateway.engine.applicable.for(principal, gateway.routes.resolve(principal, 'gpt-4o', 'chat')!).map((l) => l.item);
    expect(calls.length).toBeGreaterThan(5);
    expect((await store.peek(items))[0]!.used).toBe(calls.reduce((sum, c) => sum + c.usage.input + c.usage.output, 0));
    expect(await store.openReservations()).toBe(0);
  });
});
