// `ledger.durability: strict` while PostgreSQL stalls. Regression test from an audit: a call waited for
// its row's commit without any bound, so a frozen database left every client without an answer (until
// its own timeout), with the upstream already called and the tokens charged.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { startDelayProxy, type DelayProxy } from './helpers/redis-delay-proxy.js';
import { chat, startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

let place: LedgerPlace;
let proxy: DelayProxy;
let gw: UsageTestGateway;

beforeAll(async () => {
  place = await postgresPlace();
  const url = new URL(place.url);
  proxy = await startDelayProxy(Number(url.port || 5432));
  url.port = String(proxy.port);
  gw = await startUsageGateway(`
storage: {ledger: "${url}"}
ledger: {durability: strict}
providers: {demo: {type: mock, output_tokens: 5}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a}]
`);
});
afterAll(async () => {
  await gw?.close();
  await proxy?.close();
  await place?.drop();
});

it('answers within its bound when the commit stalls, and the row is written once the database answers', async () => {
  expect((await chat(gw.url, 'tg-a', { model: 'm' })).status).toBe(200);
  proxy.setDelay(6000); // every byte to and from PostgreSQL now takes 6 s each way
  const started = Date.now();
  const res = await chat(gw.url, 'tg-a', { model: 'm' });
  const waited = Date.now() - started;
  expect(res.status).toBe(200);
  expect(waited).toBeGreaterThanOrEqual(1900); // it did wait for the commit, as strict promises...
  expect(waited).toBeLessThan(4500); // ...but not for as long as the database took
  proxy.setDelay(0);
  await gw.usage.writer.flush();
  const rows = await gw.usage.ledger.summarize({ groupBy: ['status'] });
  expect(rows.reduce((n, g) => n + g.calls, 0)).toBe(2);
}, 30_000);
