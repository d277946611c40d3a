// Regression (security review): a client that stopped reading a stream it had asked for (its TCP window
// shut) held its connection, a provider pool connection and its reservation for as long as it kept the
// socket open; 150 s with `timeout_ms: 5000` on the provider, and no end in sight. Enough of them from one
// key took every connection of the provider's pool, and every other caller waited. Now an answer the
// client takes nothing of for `stalledReaderMs` is cut and settled as a stream whose client left, while
// answers the gateway is itself still waiting for (a slow upstream, long pauses between events) go on.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { Gateway, type CallRecord } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { systemClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { writeConfig } from './helpers/processes.js';
import { until } from './helpers/until.js';
import type { FastifyInstance } from 'fastify';

const STALL_MS = 500;
const KEY = 'tg-stalled-reader';
let upstream: MockUpstream;
let app: FastifyInstance;
let gateway: Gateway;
let url: string;
const calls: CallRecord[] = [];

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 20 });
  const upstreamUrl = await upstream.listen(0, '127.0.0.1');
  const policy = loadPolicy(
    [
      writeConfig(`
providers:
  up: {type: openai, base_url: "${upstreamUrl}/v1", api_key: sk-up, timeout_ms: 5000}
users:
  t: {daily_limit: 100000000}
routes:
  main:
    # An upstream model with no output cap the mock knows (its gpt-4o takes at most 16,384 tokens, as
    # OpenAI's does): these streams must be far longer than socket buffers hold.
    chat_models: [{model_id: gpt-4o, model: up/local-model}]
keys: [{id: alice, key: ${KEY}, user: alice, tier: t}]
`),
    ],
    process.env,
  );
  gateway = new Gateway(policy, new MemoryCounterStore(systemClock, 'UTC'), systemClock);
  gateway.onCall((r) => calls.push(r));
  app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes, stalledReaderMs: STALL_MS });
  url = await listenLocal(app);
});
afterAll(async () => {
  if (app) await closeApp(app);
  await gateway?.close();
  await upstream?.close();
});

/** Sends a chat call on a raw socket; the caller decides whether to read the answer. */
function rawCall(body: Record<string, unknown>): Socket {
  const text = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], ...body });
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  return socket;
}

describe('a client that reads nothing of its stream', () => {
  it('is cut once its stream has waited on it for stalledReaderMs, and the call is settled as one whose client left', async () => {
    const before = calls.length;
    // Far more than socket buffers hold: the gateway must wait on the client.
    const socket = rawCall({ stream: true, max_tokens: 400_000, mock_output_tokens: 400_000 });
    let received = 0;
    const stall = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > 1000) socket.pause(); // the first events, then nothing more is read
    };
    socket.on('data', stall);
    const started = performance.now();
    // Unfixed, the gateway kept the stream (and its upstream call) open as long as the client kept the socket.
    await until(() => calls.length > before, 20_000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(STALL_MS);
    // The connection is gone: a client that reads again finds its end (a reset, or the end of what was sent).
    const ended = new Promise<boolean>((resolve) => {
      socket.once('close', () => resolve(true));
      socket.once('error', () => undefined);
      setTimeout(() => resolve(false), 10_000);
    });
    socket.off('data', stall);
    socket.resume();
    expect(await ended).toBe(true);
    const call = calls.at(-1)!;
    expect({ status: call.status, streamEnd: call.streamEnd }).toEqual({ status: 499, streamEnd: 'client_gone' });
    // Charged for what the provider produced, not the whole 400,000-token grant.
    expect(call.usage.output).toBeGreaterThan(0);
    expect(call.usage.output).toBeLessThan(400_000);
  }, 30_000);
});

describe('answers the gateway is still waiting for', () => {
  const readAll = (socket: Socket): Promise<string> =>
    new Promise((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        // Both kinds end with their last bytes: a JSON body's close, or the stream's [DONE].
        if (/"usage"[\s\S]*\}\s*$/.test(text) || text.includes('data: [DONE]')) socket.end();
      });
      socket.once('close', () => resolve(text));
    });

  it('are not cut: a slow first byte, or long pauses between events, with a client reading all along', async () => {
    const slowHead = readAll(rawCall({ max_tokens: 5, mock_latency_ms: STALL_MS * 3 }));
    const slowEvents = readAll(rawCall({ stream: true, max_tokens: 3, mock_output_tokens: 3, mock_chunk_delay_ms: STALL_MS * 2 }));
    const [head, events] = await Promise.all([slowHead, slowEvents]);
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toContain('"finish_reason":"length"');
    expect(events).toMatch(/^HTTP\/1\.1 200 /);
    expect(events).toContain('data: [DONE]');
  }, 30_000);

  it('a client that reads in bursts, pausing for less than stalledReaderMs each time, gets its whole stream', async () => {
    const before = calls.length;
    const socket = rawCall({ stream: true, max_tokens: 50_000, mock_output_tokens: 50_000 });
    let text = '';
    let pausing = false;
    socket.on('data', (chunk: Buffer) => {
      text = (text + chunk.toString()).slice(-64);
      if (text.includes('data: [DONE]')) return void socket.end();
      if (pausing) return;
      pausing = true;
      // What has arrived is read, then nothing for a while: a client busy elsewhere, but never for the limit.
      setImmediate(() => {
        socket.pause();
        setTimeout(() => {
          pausing = false;
          socket.resume();
        }, STALL_MS * 0.6);
      });
    });
    await new Promise((resolve) => socket.once('close', resolve));
    expect(text).toContain('data: [DONE]');
    await until(() => calls.length > before, 5000);
    expect({ status: calls.at(-1)!.status, streamEnd: calls.at(-1)!.streamEnd }).toEqual({ status: 200, streamEnd: 'complete' });
  }, 60_000);
});
