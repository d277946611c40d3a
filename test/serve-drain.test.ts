// Rolling restarts behind a load balancer, on real `tollgate serve` processes: during
// `server.drain_delay_ms` after SIGTERM the gateway still serves, new connections and kept-alive ones
// alike, with `Connection: close`, while /healthz answers 503; then the listener closes, in-flight calls
// finish, every served call is in the ledger, and the process exits 0. A stream longer than
// `server.drain_timeout_ms` is cut there and still recorded.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { openLedger } from '../src/ledger/open-ledger.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const running: RunningProcess[] = [];
afterEach(async () => {
  // stop() waits for an exit: only for a process still running.
  for (const p of running.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) await p.stop('SIGKILL');
});

/** A config with the in-process mock provider (or `provider`) and a fresh SQLite ledger beside it. */
function drainConfig(server: string, provider = '{type: mock, latency_ms: 1, output_tokens: 5}'): { file: string; ledger: string } {
  const file = writeConfig('{}'); // a fresh directory, for the ledger too
  const ledger = `sqlite:${path.join(path.dirname(file), 'ledger.db')}`;
  writeFileSync(file, `
server: ${server}
storage: {ledger: "${ledger}"}
providers: {demo: ${provider}}
projects: {p: {daily_limit: 10000000}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys:
  - {id: a, key: tg-a, project: p}
`);
  return { file, ledger };
}

interface Answer {
  status: number;
  connection: string | undefined;
  requestId: string | undefined;
  body: string;
  /** The request went on a connection opened before. */
  reused: boolean;
}

/** One request through `agent` (keep-alive when it is one), with the gateway's key. */
function send(url: string, agent: http.Agent, method: 'GET' | 'POST', urlPath: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${urlPath}`, { method, agent, headers: { authorization: 'Bearer tg-a', 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          connection: res.headers.connection,
          requestId: res.headers['x-tollgate-request-id'] as string | undefined,
          body: text,
          reused: req.reusedSocket,
        }),
      );
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const chat = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20, ...extra });

/** Whether a new TCP connection to the gateway's port is refused (its listener closed). */
function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function ledgerRows(url: string): Promise<Map<string, LedgerRow>> {
  const ledger = await openLedger(url);
  try {
    return new Map((await ledger.rows({})).map((r) => [r.requestId, r]));
  } finally {
    await ledger.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function exitOf(p: RunningProcess): Promise<number | null> {
  return new Promise((resolve) => (p.child.exitCode !== null ? resolve(p.child.exitCode) : p.child.once('exit', (code) => resolve(code))));
}

/** `tollgate serve` of `file`, its exit, and a raw connection to it that has sent nothing yet. */
async function serveWithSocket(file: string): Promise<{ gateway: RunningProcess; exited: Promise<number | null>; socket: net.Socket }> {
  const gateway = await startCli(['serve', '--config', file, '--port', '0']);
  running.push(gateway);
  const exited = exitOf(gateway);
  const { hostname, port } = new URL(gateway.url);
  const socket = net.connect(Number(port), hostname);
  await new Promise((r) => socket.once('connect', r));
  return { gateway, exited, socket };
}

describe('tollgate serve: SIGTERM with server.drain_delay_ms', () => {
  it('serves on during the delay with Connection: close, /healthz 503, then drains and exits 0 with every call in the ledger', async () => {
    const DELAY_MS = 800;
    const { file, ledger } = drainConfig(`{drain_delay_ms: ${DELAY_MS}}`);
    const gateway = await startCli(['serve', '--config', file, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
    running.push(gateway);
    const exited = exitOf(gateway);
    const kept = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const served: Answer[] = [];

    const before = await send(gateway.url, kept, 'POST', '/v1/chat/completions', chat());
    expect(before).toMatchObject({ status: 200, connection: 'keep-alive' });
    served.push(before);

    const sigterm = Date.now();
    gateway.child.kill('SIGTERM');
    await sleep(100);

    // The connection kept alive from before the signal is still served, and told to close.
    const onKept = await send(gateway.url, kept, 'POST', '/v1/chat/completions', chat());
    expect(onKept).toMatchObject({ status: 200, connection: 'close', reused: true });
    served.push(onKept);
    // New connections too (the load balancer has not noticed yet).
    const fresh = await send(gateway.url, new http.Agent({ keepAlive: true }), 'POST', '/v1/chat/completions', chat());
    expect(fresh).toMatchObject({ status: 200, connection: 'close', reused: false });
    served.push(fresh);
    const health = await send(gateway.url, new http.Agent(), 'GET', '/healthz');
    expect({ status: health.status, body: JSON.parse(health.body) }).toEqual({ status: 503, body: { status: 'draining' } });
    expect(health.connection).toBe('close');

    // The official SDK, streaming, during the delay.
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-a', maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20, stream: true }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('connection')).toBe('close');
    let chunks = 0;
    for await (const c of stream) if (c.choices[0]?.delta?.content) chunks++;
    expect(chunks).toBe(5);
    const sdkRequestId = response.headers.get('x-tollgate-request-id')!;

    // A slow call started in the delay is still in flight when it ends: the drain waits for it.
    const slow = send(gateway.url, new http.Agent(), 'POST', '/v1/chat/completions', chat({ mock_latency_ms: 1200 }));
    expect(Date.now() - sigterm).toBeLessThan(DELAY_MS);
    await sleep(DELAY_MS + 200 - (Date.now() - sigterm));
    expect(gateway.child.exitCode).toBeNull();
    expect(await refused(gateway.url)).toBe(true); // the listener is closed once the delay is over
    const slowAnswer = await slow;
    expect(slowAnswer.status).toBe(200);
    served.push(slowAnswer);

    expect(await exited).toBe(0);
    expect(Date.now() - sigterm).toBeGreaterThanOrEqual(DELAY_MS);
    const rows = await ledgerRows(ledger);
    const ids = [...served.map((a) => a.requestId!), sdkRequestId];
    expect(ids.filter((id) => rows.get(id)?.status !== 200)).toEqual([]); // 0 rows lost
    expect(rows.size).toBe(ids.length);
    const log = gateway.output();
    expect(log.indexOf('drain delay started')).toBeGreaterThan(-1);
    expect(log.indexOf('drain delay over')).toBeGreaterThan(log.indexOf('drain delay started'));
  });

  it('a second SIGTERM cuts the delay short and drains at once', async () => {
    const { file } = drainConfig('{drain_delay_ms: 20000}');
    const gateway = await startCli(['serve', '--config', file, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
    running.push(gateway);
    const exited = exitOf(gateway);
    gateway.child.kill('SIGTERM');
    await sleep(200);
    const health = await send(gateway.url, new http.Agent(), 'GET', '/healthz');
    expect(health.status).toBe(503);
    const second = Date.now();
    gateway.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - second).toBeLessThan(3000);
    expect(gateway.output()).toContain('drain delay cut short');
  });
});

describe('tollgate serve: SIGTERM without a drain delay (the default)', () => {
  it('closes the listener at once, and serves a request arriving on a busy kept-alive connection (not a bare 503 from fastify)', async () => {
    const { file, ledger } = drainConfig('{}');
    const { gateway, exited, socket } = await serveWithSocket(file);
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (raw += d));
    const request = (body: Record<string, unknown>): string => {
      const text = JSON.stringify(body);
      return `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tg-a\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
    };
    // The first call keeps the connection busy across the signal, so the drain's idle sweep leaves it open.
    socket.write(request(chat({ mock_latency_ms: 600 })));
    await sleep(150);
    gateway.child.kill('SIGTERM');
    await sleep(150);
    expect(await refused(gateway.url)).toBe(true);
    socket.write(request(chat()));
    await new Promise((r) => socket.once('close', r));
    expect(await exited).toBe(0);

    const answers = raw.split(/(?=HTTP\/1\.1 )/).map((text) => ({
      status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)![1]),
      connection: /\r\nconnection: ([^\r]+)/i.exec(text)?.[1],
      requestId: /\r\nx-tollgate-request-id: ([^\r]+)/i.exec(text)?.[1],
    }));
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers[1]!.connection).toBe('close');
    const rows = await ledgerRows(ledger);
    expect(answers.map((a) => rows.get(a.requestId!)?.status)).toEqual([200, 200]);
  });
});

describe('tollgate serve: SIGTERM with a connection that has sent nothing', () => {
  // A socket opened ahead of a request (undici's pool opens one after a stream it aborted; browsers and load
  // balancers pre-connect) is neither in flight nor idle to Node: the drain waited its whole timeout on it.
  it('closes it and exits well before the drain timeout', async () => {
    const { file } = drainConfig('{drain_timeout_ms: 20000}');
    const { gateway, exited, socket } = await serveWithSocket(file);
    const closed = new Promise((r) => socket.once('close', r));
    const sent = performance.now();
    gateway.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await closed;
    expect(performance.now() - sent).toBeLessThan(10_000);
  });
});

describe('tollgate serve: server.drain_timeout_ms', () => {
  // The in-process mock provider and an HTTP upstream (whose pool closes only once its calls ended).
  it.each(['mock', 'mock-upstream'])('cuts a stream still running at the timeout, and records it with what was delivered (%s)', async (kind) => {
    const DRAIN_TIMEOUT_MS = 400;
    let provider = '{type: mock}';
    if (kind === 'mock-upstream') {
      const upstream = await startCli(['mock-upstream', '--port', '0', '--latency-ms', '1']);
      running.push(upstream);
      provider = `{type: openai, base_url: "${upstream.url}/v1", api_key: sk-up}`;
    }
    const { file, ledger } = drainConfig(`{drain_timeout_ms: ${DRAIN_TIMEOUT_MS}}`, provider);
    const gateway = await startCli(['serve', '--config', file, '--port', '0']);
    running.push(gateway);
    const exited = exitOf(gateway);
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-a', maxRetries: 0 });
    // 300 tokens, one every 20 ms: 6 s, far past the timeout.
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 400, stream: true, mock_output_tokens: 300, mock_chunk_delay_ms: 20 } as OpenAI.ChatCompletionCreateParamsStreaming)
      .withResponse();
    let delivered = 0;
    let sigterm = 0;
    let failure: unknown;
    try {
      for await (const c of stream) {
        if (c.choices[0]?.delta?.content) delivered++;
        if (delivered === 5 && sigterm === 0) {
          sigterm = Date.now();
          gateway.child.kill('SIGTERM');
        }
      }
    } catch (err) {
      failure = err;
    }
    const cutAfter = Date.now() - sigterm;
    expect(failure).toBeDefined(); // the stream did not end cleanly: it was cut
    expect(cutAfter).toBeGreaterThanOrEqual(DRAIN_TIMEOUT_MS - 50);
    expect(cutAfter).toBeLessThan(DRAIN_TIMEOUT_MS + 1500);
    expect(await exited).toBe(0);

    const row = (await ledgerRows(ledger)).get(response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ status: 499, streamEnd: 'client_gone', stream: true });
    // Charged what the provider produced until the cut: at least what the client got, far from the 300 asked.
    expect(row!.outputTokens).toBeGreaterThanOrEqual(delivered);
    expect(row!.outputTokens).toBeLessThan(150);
  });
});
