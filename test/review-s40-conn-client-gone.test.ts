// Review (s40, conn): clients that never finish their request, and clients that leave while the gateway
// waits on the upstream or relays its stream. Nothing may be lost or left open: no reservation stays
// open, the counters equal the usage the calls were settled with (SPEC §2: "a client that disconnects is
// charged for what the provider actually produced"), nothing goes upstream for a request that never
// arrived, and every socket is closed in the end (README "Endpoints": a request must arrive in full within
// 60 s, shortened here to REQUEST_TIMEOUT_MS; `requestTimeoutMs` is the server's own option).
import net from 'node:net';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { startWireUpstream, writePaced, type WireUpstream } from './helpers/wire-upstream.js';

const REQUEST_TIMEOUT_MS = 800;
const KEY = 'tg-conn-gone';
let upstream: MockUpstream;
let wire: WireUpstream;
let app: FastifyInstance;
let gateway: Gateway;
let store: MemoryCounterStore;
let port: number;
const calls: CallRecord[] = [];
/** When the wire upstream saw each of its requests close, by the marker in its prompt. */
const wireClosedAt = new Map<string, number>();

const chunk = (text: string): string => `data: {"id":"chatcmpl-w","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":${JSON.stringify(text)}},"finish_reason":null}]}\n\n`;

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 20 });
  const mockUrl = await upstream.listen(0, '127.0.0.1');
  // A stream of 40 frames 100 ms apart (4 s), its head after `head-late` 1.5 s; records when its request closed.
  wire = await startWireUpstream((req, res: ServerResponse, raw) => {
    const marker = /marker-[a-z0-9-]+/.exec(raw)?.[0] ?? 'none';
    res.on('close', () => wireClosedAt.set(marker, Date.now()));
    const start = (): void => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      writePaced(res, [...Array.from({ length: 40 }, (_, i) => chunk(`tok${i} `)), 'data: [DONE]\n\n'], 100);
    };
    if (marker.includes('head-late')) setTimeout(() => !res.destroyed && start(), 1500);
    else start();
  });
  const policy = loadPolicy([writeConfig(`
server: {max_body_bytes: 65536}
providers:
  gpt: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-up}
  claude: {type: anthropic, base_url: "${mockUrl}", api_key: sk-up}
  wire: {type: openai, base_url: "${wire.url}", api_key: sk-up}
projects: {p: {daily_limit: 100000000}}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: gpt/gpt-4o}
      - {model_id: claude, model: claude/claude-sonnet-4-20250514}
      - {model_id: paced, model: wire/gpt-4o}
keys: [{id: k, key: ${KEY}, project: p}]
`)], process.env);
  store = new MemoryCounterStore(systemClock, 'UTC');
  gateway = new Gateway(policy, store, systemClock);
  gateway.onCall((r) => calls.push(r));
  app = buildServer({ gateway: () => gateway, maxBodyBytes: 65536, requestTimeoutMs: REQUEST_TIMEOUT_MS, lingerLimits: { totalMs: 2000, idleMs: 200 } });
  port = Number(new URL(await listenLocal(app)).port);
});
afterAll(async () => {
  if (app) await closeApp(app);
  await gateway?.close();
  await upstream?.close();
  await wire?.close();
});

const connections = (): Promise<number> => new Promise((resolve, reject) => app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
const head = (path: string, length: number | string): string =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
const request = (path: string, body: string): string => head(path, Buffer.byteLength(body)) + body;

const BODIES: Record<string, (extra: object) => string> = {
  '/v1/chat/completions': (e) => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], ...e }),
  '/v1/messages': (e) => JSON.stringify({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...e }),
  '/v1/responses': (e) => JSON.stringify({ model: 'gpt-4o', input: 'hi', ...e }),
};

const raw = (parts: Array<string | number> | string, waitMs = 5000): Promise<RawExchange> => rawExchange(port, parts, waitMs);

/** Sends `body` to `path` and destroys the connection after `afterMs`, or once `leave(text so far)` holds; returns the call's record. */
async function leave(path: string, body: string, when: number | ((text: string) => boolean)): Promise<CallRecord> {
  const before = calls.length;
  await new Promise<void>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request(path, body)));
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
      if (typeof when === 'function' && when(text)) socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
    if (typeof when === 'number') setTimeout(() => socket.destroy(), when);
  });
  await until(() => calls.length > before, 5000);
  expect(calls.length).toBe(before + 1);
  return calls[calls.length - 1]!;
}

/** The project's daily counter: what the store holds as used. */
async function projectUsed(): Promise<number> {
  const principal = gateway.keys.resolve(KEY)!;
  const items = gateway.engine.applicable.for(principal, gateway.routes.resolve(principal, 'gpt-4o', 'chat')!).map((l) => l.item);
  return (await store.peek(items))[0]!.used;
}
const settledSum = (): number => calls.reduce((sum, c) => sum + c.usage.input + c.usage.output, 0);

describe('a request body that never finishes', () => {
  const body = BODIES['/v1/chat/completions']({});
  const cut = request('/v1/chat/completions', body).slice(0, -5);

  it('closed by the client (FIN): a 400 malformed_http, nothing upstream, no call, no reservation, no connection left', async () => {
    upstream.clearRequests();
    const before = calls.length;
    const fin = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(cut);
        setTimeout(() => s.end(), 100);
      });
      let t = '';
      s.on('data', (d) => (t += d));
      s.on('error', () => {});
      s.on('close', () => resolve(t));
    });
    expect(fin).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(fin.split('\r\n\r\n')[1]!)).toMatchObject({ error: { code: 'malformed_http' } });
    await new Promise((r) => setTimeout(r, 200));
    expect(upstream.requests()).toHaveLength(0);
    expect(calls.length).toBe(before);
    expect(await store.openReservations()).toBe(0);
    await until(async () => (await connections()) === 0, 3000);
  });

  it('reset by the client (RST): nothing upstream, no call, no reservation, no connection left', async () => {
    upstream.clearRequests();
    const before = calls.length;
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(cut);
        setTimeout(() => {
          s.resetAndDestroy();
          resolve();
        }, 100);
      });
      s.on('error', () => {});
    });
    await until(async () => (await connections()) === 0, 3000);
    expect(upstream.requests()).toHaveLength(0);
    expect(calls.length).toBe(before);
    expect(await store.openReservations()).toBe(0);
  });

  it('left hanging: a 408 once REQUEST_TIMEOUT_MS has passed, the socket closed, nothing upstream, no call', async () => {
    upstream.clearRequests();
    const before = calls.length;
    const r = await raw([cut], 5000);
    expect(r.closed).toBe(true);
    expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(r.text.split('\r\n\r\n')[1]!)).toMatchObject({ error: { code: 'request_timeout' } });
    expect(r.ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(r.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 2000);
    expect(upstream.requests()).toHaveLength(0);
    expect(calls.length).toBe(before);
    expect(await store.openReservations()).toBe(0);
  });

  it('dripped slower than the timeout allows: a 408 and nothing upstream; dripped within it: served once', async () => {
    upstream.clearRequests();
    const whole = request('/v1/chat/completions', body);
    const slow: Array<string | number> = [];
    for (let i = 0; i < whole.length; i += 10) slow.push(whole.slice(i, i + 10), 60);
    const late = await raw(slow, 6000);
    expect(late.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(late.closed).toBe(true);
    expect(upstream.requests()).toHaveLength(0);

    const quick: Array<string | number> = [];
    for (let i = 0; i < whole.length; i += 60) quick.push(whole.slice(i, i + 60), 15);
    const served = await raw(quick, 2500);
    expect(served.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(upstream.requests()).toHaveLength(1);
  });

  it("'Expect: 100-continue' answered with 100, then no body: a 408, nothing upstream", async () => {
    upstream.clearRequests();
    const r = await raw([head('/v1/chat/completions', 100).replace('Content-Type', 'Expect: 100-continue\r\nContent-Type')], 5000);
    expect(r.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 408 /);
    expect(r.closed).toBe(true);
    expect(upstream.requests()).toHaveLength(0);
  });

  it('silent connections and headers sent a line at a time (slowloris) are all cut at the timeout', async () => {
    const silent = Array.from({ length: 20 }, () => raw([], 5000));
    const drip = Array.from({ length: 20 }, () => raw(['POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n', ...Array.from({ length: 15 }, (_, i) => [200, `X-H${i}: 1\r\n`]).flat()], 5000));
    const all = await Promise.all([...silent, ...drip]);
    for (const r of all) {
      expect(r.closed).toBe(true);
      expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
      expect(r.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 2000);
    }
    await until(async () => (await connections()) === 0, 3000);
  });
});

describe('a client that leaves while the gateway waits on the upstream', () => {
  for (const path of Object.keys(BODIES)) {
    it(`${path}, not streamed: recorded 499, charged the provider's usage, no reservation left`, async () => {
      const rec = await leave(path, BODIES[path]!({ mock_latency_ms: 400 }), 100);
      expect(rec).toMatchObject({ status: 499, decision: 'admitted' });
      expect(rec.usage.source).toBe('provider');
      expect(rec.usage.output).toBe(20);
      expect(rec.usage.input).toBeGreaterThan(0);
      expect(await store.openReservations()).toBe(0);
    });

    it(`${path}, streamed, before the stream's head: recorded 499 and refunded (nothing produced), no reservation left`, async () => {
      const rec = await leave(path, BODIES[path]!({ mock_latency_ms: 400, stream: true }), 100);
      expect(rec).toMatchObject({ status: 499, decision: 'failed' });
      expect(rec.usage.input + rec.usage.output).toBe(0);
      expect(await store.openReservations()).toBe(0);
    });

    it(`${path}, streamed, mid-stream: recorded 499 client_gone with the input and what was produced, no reservation left`, async () => {
      const rec = await leave(path, BODIES[path]!({ mock_chunk_delay_ms: 60, stream: true }), (t) => t.split('data:').length > 6);
      expect(rec).toMatchObject({ status: 499, streamEnd: 'client_gone', decision: 'admitted' });
      expect(rec.usage.input).toBeGreaterThan(0);
      expect(rec.usage.output).toBeGreaterThan(0);
      expect(rec.usage.output).toBeLessThan(20);
      expect(await store.openReservations()).toBe(0);
    });
  }

  it('chat completions on a Claude model (translated), mid-stream: 499 client_gone, charged, no reservation left', async () => {
    const rec = await leave('/v1/chat/completions', JSON.stringify({ model: 'claude', max_tokens: 100, stream: true, mock_chunk_delay_ms: 60, messages: [{ role: 'user', content: 'hi' }] }), (t) => t.split('data:').length > 5);
    expect(rec).toMatchObject({ status: 499, streamEnd: 'client_gone' });
    expect(rec.usage.input).toBeGreaterThan(0);
    expect(rec.usage.output).toBeGreaterThan(0);
    expect(await store.openReservations()).toBe(0);
  });

  it('mid-stream: the upstream request is closed at once, so the provider stops generating (4 s of stream left)', async () => {
    const marker = 'marker-mid';
    let leftAt = 0;
    const rec = await leave('/v1/chat/completions', JSON.stringify({ model: 'paced', stream: true, messages: [{ role: 'user', content: marker }] }), (t) => {
      const go = t.split('data:').length > 3;
      if (go && leftAt === 0) leftAt = Date.now();
      return go;
    });
    await until(() => wireClosedAt.has(marker), 3000);
    expect(wireClosedAt.get(marker)! - leftAt).toBeLessThan(1000);
    expect(rec).toMatchObject({ status: 499, streamEnd: 'client_gone' });
    expect(rec.usage.output).toBeGreaterThanOrEqual(3);
    expect(rec.usage.output).toBeLessThan(40);
  });

  it('before the stream head: the upstream request is aborted at once, not held until its head comes', async () => {
    const marker = 'marker-head-late';
    const leftAt = Date.now() + 200;
    const rec = await leave('/v1/chat/completions', JSON.stringify({ model: 'paced', stream: true, messages: [{ role: 'user', content: marker }] }), 200);
    await until(() => wireClosedAt.has(marker), 3000);
    expect(wireClosedAt.get(marker)! - leftAt).toBeLessThan(800);
    expect(rec).toMatchObject({ status: 499, decision: 'failed' });
  });

  it('afterwards, the counters equal the usage every call was settled with, and no reservation is open', async () => {
    expect(calls.length).toBeGreaterThan(10);
    expect(await projectUsed()).toBe(settledSum());
    expect(await store.openReservations()).toBe(0);
  });
});
