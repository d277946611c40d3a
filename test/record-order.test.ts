// When the call record is made, relative to the answer: after it (the caller does not wait for the
// settlement or the ledger row), except with a strict ledger, which commits the row first.
import type { ServerResponse } from 'node:http';
import { afterEach, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';

const CONFIG = `
providers: {demo: {type: mock, output_tokens: 7}}
organization: {daily_cap: 1000000}
routes:
  r:
    chat_models: [{model_id: m, model: demo/gpt-4o}]
keys: [{id: a, key: tg-a}]
`;

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

/** The server-side response of the one request in flight, so a listener can ask whether it was sent. */
function lastResponse(g: TestGateway): () => ServerResponse | undefined {
  let last: ServerResponse | undefined;
  g.app.server.on('request', (_req, res: ServerResponse) => (last = res));
  return () => last;
}

async function chat(): Promise<Response> {
  return fetch(`${gw!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
  });
}

it('records a call only once the answer was written, its settlement already applied', async () => {
  gw = await startTestGateway(CONFIG);
  const response = lastResponse(gw);
  const g = gw;
  const seen: Array<{ answered: boolean; states: ReturnType<typeof g.store.peek> }> = [];
  g.gateway.onCall((r) => {
    // The organization's daily counter, read now (the memory store's peek reads synchronously).
    const item = g.gateway.engine.applicable.for(r.principal, r.target)[0]!.item;
    seen.push({ answered: response()?.writableEnded === true, states: g.store.peek([item]) });
  });
  const res = await chat();
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(seen).toHaveLength(1);
  expect(seen[0]!.answered).toBe(true);
  // Settled before the record: the counter holds the upstream's real usage, not the reservation.
  const [daily] = await seen[0]!.states;
  expect(daily!.used).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
});

it('with a strict ledger, hands the record over before the answer is written', async () => {
  gw = await startTestGateway(CONFIG);
  const response = lastResponse(gw);
  const answeredAtSink: boolean[] = [];
  gw.gateway.recordSink = async () => {
    answeredAtSink.push(response()?.writableEnded === true);
  };
  const res = await chat();
  expect(res.status).toBe(200);
  expect(answeredAtSink).toEqual([false]);
});
