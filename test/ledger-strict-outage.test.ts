// `ledger.durability: strict` while PostgreSQL stalls. Regression test from an audit: a call waited for
// its row's commit without any bound, so a frozen database left every client without an answer (until
// its own timeout), with the upstream already called and the tokens charged.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stallablePostgres } from './helpers/ledgers.js';
import { chat, startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

let pg: Awaited<ReturnType<typeof stallablePostgres>>;
let gw: UsageTestGateway;

beforeAll(async () => {
  pg = await stallablePostgres();
  gw = await startUsageGateway(`
storage: {ledger: "${pg.url}"}
ledger: {durability: strict}
providers: {demo: {type: mock, output_tokens: 5}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a}]
`);
});
afterAll(async () => {
  await gw?.close();
  await pg?.close();
});

it('answers within its bound when the commit stalls, and the row is written once the database answers', async () => {
  expect((await chat(gw.url, 'tg-a', { model: 'm' })).status).toBe(200);
  pg.proxy.setDelay(6000); // every byte to and from PostgreSQL now takes 6 s each way
  const started = Date.now();
  const res = await chat(gw.url, 'tg-a', { model: 'm' });
  const waited = Date.now() - started;
  expect(res.status).toBe(200);
  expect(waited).toBeGreaterThanOrEqual(1900); // it did wait for the commit, as strict promises...
  expect(waited).toBeLessThan(4500); // ...but not for as long as the database took
  pg.proxy.setDelay(0);
  await gw.usage.writer.flush();
  const rows = await gw.usage.ledger.summarize({ groupBy: ['status'] });
  expect(rows.reduce((n, g) => n + g.calls, 0)).toBe(2);
}, 30_000);
