// A config reload while requests are in flight. Regression test from an audit: the reload closed the old
// gateway's upstream pools at once, so a request that had picked the old gateway (still sending its body,
// or waiting for its reservation) failed with a 502 (UND_ERR_CLOSED): 1-3 calls in 150 under 16 SIGHUPs.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { loadPolicy } from '../src/config/index.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { Gateway } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { ManualClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { writeConfig } from './helpers/processes.js';

let upstream: MockUpstream;
let app: FastifyInstance;
let url: string;
let current: Gateway;
let load: () => Gateway;

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 5 });
  const upstreamUrl = await upstream.listen(0, '127.0.0.1');
  const file = writeConfig(`
providers: {up: {type: openai, base_url: "${upstreamUrl}/v1"}}
routes: {r: {chat_models: [{model_id: m, model: up/gpt-4o}]}}
keys: [{id: a, key: tg-a}]
`);
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 12));
  const store = new MemoryCounterStore(clock, 'UTC');
  load = () => new Gateway(loadPolicy([file], process.env), store, clock);
  current = load();
  app = buildServer({ gateway: () => current, maxBodyBytes: 1 << 20 });
  url = await listenLocal(app);
});
afterAll(async () => {
  await closeApp(app);
  await current.close();
  await upstream.close();
});

it('a reload lets the requests that picked the old gateway finish, then closes it', async () => {
  // Warm the old gateway's pool, as traffic would have.
  expect((await post(url, ['{"model":"m","messages":[{"role":"user","content":"hi"}]}'])).statusCode).toBe(200);

  let sendRest!: () => void;
  const rest = new Promise<void>((r) => (sendRest = r));
  const halfSent = post(url, ['{"model":"m","messages":[', rest.then(() => '{"role":"user","content":"hi"}]}')]);
  const old = current;
  // Until the request has picked the gateway (its key checked) and waits for the rest of its body.
  while (old.requestsInFlight === 0) await new Promise((r) => setTimeout(r, 10));

  current = load(); // the reload
  let closed = false;
  const retired = old.retire().then(() => (closed = true));
  await new Promise((r) => setTimeout(r, 50));
  expect(closed).toBe(false);

  sendRest();
  const res = await halfSent;
  expect(res.statusCode).toBe(200);
  expect(JSON.parse(await res.body.text())).toMatchObject({ object: 'chat.completion' });
  await retired;
  expect(closed).toBe(true);
  // New requests use the new gateway.
  expect((await post(url, ['{"model":"m","messages":[{"role":"user","content":"hi"}]}'])).statusCode).toBe(200);
});

/** Posts a body sent in parts (a promise part waits before it is sent). */
function post(base: string, parts: Array<string | Promise<string>>) {
  async function* body(): AsyncGenerator<string> {
    for (const part of parts) yield await part;
  }
  return request(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a' }, body: Readable.from(body()) });
}
