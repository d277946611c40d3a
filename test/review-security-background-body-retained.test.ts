// A background response (`background: true` on /v1/responses) is followed until it ends, up to the
// reservation TTL (15 minutes at least), and what settles it keeps the request's scope alive, the body's
// text included: 20 calls padded with 20 MiB of white space (valid JSON, no tokens: nothing a limit
// counts) kept 440 MB on the heap. Any key could so exhaust the gateway's memory, 80 MiB per call, up to
// 10,000 calls. Once sent upstream, the text is not needed again (pipeline.ts drops it, the pricing hints'
// copy too, in the `finally` after `provider.send`).
import type { IncomingMessage, ServerResponse } from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';
import { responseObject, startWireUpstream, type WireUpstream } from './helpers/wire-upstream.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const CALLS = 10;
const PADDING_BYTES = 16 * 1024 * 1024;

let upstream: WireUpstream;
let gw: TestGateway;
let made = 0;

/** Queued when made, in progress ever after: the gateway follows every one until it stops. */
function neverEnding(req: IncomingMessage, res: ServerResponse): void {
  const id = req.method === 'POST' ? `resp_kept${++made}` : (/responses\/([^/?]+)/.exec(req.url ?? '')?.[1] ?? 'resp_x');
  const body = responseObject(id, { model: 'gpt-4o', input: 'hi' }, req.method === 'POST' ? 'queued' : 'in_progress', null);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

beforeAll(async () => {
  upstream = await startWireUpstream(neverEnding);
  gw = await startTestGateway(`
providers: {openai: {type: openai, base_url: "${upstream.url}", api_key: sk-upstream-key-0123456789}}
routes: {r: {chat_models: [{model_id: m, model: openai/gpt-4o}]}}
users: {t: {daily_limit: 1000000}}
keys:
  - {id: k, key: tg-k, user: u, tier: t}
`);
});
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

it("keeps no background call's request text once it has gone upstream", async () => {
  // Bytes, not a string: the client's copy is off the heap the measure reads.
  const padding = Buffer.alloc(PADDING_BYTES, 0x20);
  const body = Buffer.concat([Buffer.from('{"model":"m","background":true,"max_output_tokens":16,"input":"hi"}'), padding]);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < CALLS; i++) {
    const res = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' }, body });
    expect((await res.json()).status).toBe('queued');
  }
  expect(gw.gateway.background.size).toBe(CALLS);
  gc();
  const kept = process.memoryUsage().heapUsed - before;
  // Without the fix: about CALLS x 16 MiB (184 MB measured). With it: about one body's worth, whatever CALLS
  // is (16 MB measured with 10 calls and with 20: the last request's text, not yet let go of).
  expect(kept).toBeLessThan(3 * PADDING_BYTES);
}, 60_000);
