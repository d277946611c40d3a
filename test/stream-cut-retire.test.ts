// A stream whose connection is cut (its client left, or SIGTERM's drain timeout closed it) is settled and
// recorded after the connection closed, and a non-streamed call's answer goes out before its settlement.
// Its gateway counts such a call in flight until the row is out, so retire(), which a stop awaits before
// the ledger's last flush, waits for it. Regression tests: with a counter store slower than one turn of
// the event loop (Redis), the drain timeout cut a stream and the process flushed the ledger and exited
// without its row; a non-streamed call's row could miss the flush the same way.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { loadPolicy } from '../src/config/index.js';
import type { SettleUsage } from '../src/limits/counter-store.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { Gateway, type CallRecord } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { ManualClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { writeConfig } from './helpers/processes.js';

/** Settles as a remote store does: a while after it is asked; or fails to, as one that went away. */
class SlowSettleStore extends MemoryCounterStore {
  failing = false;
  override async settle(id: string, usage: SettleUsage): Promise<void> {
    await new Promise((r) => setTimeout(r, 100));
    if (this.failing) throw new Error('the counter store went away');
    return super.settle(id, usage);
  }
}

let app: FastifyInstance;
let url: string;
let gateway: Gateway;
let store: SlowSettleStore;
const calls: CallRecord[] = [];

beforeAll(async () => {
  const file = writeConfig(`
providers: {demo: {type: mock}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a}]
`);
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 12));
  store = new SlowSettleStore(clock, 'UTC');
  gateway = new Gateway(loadPolicy([file], process.env), store, clock);
  gateway.onCall((r) => calls.push(r));
  app = buildServer({ gateway: () => gateway, maxBodyBytes: 1 << 20 });
  url = await listenLocal(app);
});
afterAll(async () => {
  await closeApp(app);
});

/** Opens a slow stream, reads its first chunk and cuts every connection, as the drain timeout does. */
async function cutStream(): Promise<void> {
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-a', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 400, mock_output_tokens: 300, mock_chunk_delay_ms: 20 }),
  });
  expect(res.statusCode).toBe(200);
  const firstChunk = await res.body[Symbol.asyncIterator]().next();
  expect(firstChunk.done).toBe(false);
  res.body.on('error', () => {}); // the cut ends it with an error
  app.server.closeAllConnections();
}

it('retire() waits for the row of a stream whose connection was cut', async () => {
  await cutStream();
  await gateway.retire();
  expect(calls.map((c) => ({ status: c.status, streamEnd: c.streamEnd }))).toEqual([{ status: 499, streamEnd: 'client_gone' }]);
  expect(gateway.requestsInFlight).toBe(0);
});

it('retire() waits for the row of a non-streamed call answered before its settlement', async () => {
  const next = new Gateway(gateway.policy, store, gateway.clock);
  gateway = next;
  const before = calls.length;
  next.onCall((r) => calls.push(r));
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-a', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 }),
  });
  expect(res.statusCode).toBe(200);
  await res.body.text(); // the answer is out; its settlement (100 ms) is not
  await next.retire();
  expect(calls.slice(before).map((c) => c.status)).toEqual([200]);
});

it('and still ends when that stream cannot be settled (the store went away): the call holds nothing after it failed', async () => {
  const next = new Gateway(gateway.policy, store, gateway.clock);
  gateway = next;
  store.failing = true;
  await cutStream();
  const outcome = await Promise.race([next.retire().then(() => 'retired'), new Promise((r) => setTimeout(() => r('still waiting'), 2000))]);
  expect(outcome).toBe('retired');
  expect(next.requestsInFlight).toBe(0);
});
