// A PostgreSQL ledger that stalls. Regression tests from audits: with `ledger.durability: strict` a call
// waited for its row's commit without any bound, so a frozen database left every client without an
// answer (until its own timeout), with the upstream already called and the tokens charged; the admin
// reports (/api/audit, the dashboard, `tollgate audit`) hung as long.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endPostgresNow } from './helpers/end-postgres-now.js';
import { stallablePostgres } from './helpers/ledgers.js';
import { chat, startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

let pg: Awaited<ReturnType<typeof stallablePostgres>>;
let gw: UsageTestGateway;

beforeAll(async () => {
  pg = await stallablePostgres();
  gw = await startUsageGateway(`
server: {admin_key: admin-secret}
storage: {ledger: "${pg.url}"}
ledger: {durability: strict}
providers: {demo: {type: mock, output_tokens: 5}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a}]
`);
});
afterAll(async () => {
  // Every row is written (the first test); the audit's query still waits on bytes the proxy holds 60 s.
  if (gw) await endPostgresNow(gw.usage.ledger);
  await gw?.close();
  await pg?.close();
});

it('answers within its bound when the commit stalls, and the row is written once the database answers', async () => {
  expect((await chat(gw.url, 'tg-a', { model: 'm' })).status).toBe(200);
  pg.proxy.setDelay(5000); // every byte to and from PostgreSQL now takes 5 s each way, past the 4.5 s bound below
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

it('the admin reports answer 503 ledger_unavailable within their bound while the database stalls', async () => {
  pg.proxy.setDelay(60_000);
  try {
    const started = Date.now();
    const res = await fetch(`${gw.url}/api/audit`, { headers: { authorization: 'Bearer admin-secret' } });
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('ledger_unavailable');
    expect(Date.now() - started).toBeLessThan(15_000);
  } finally {
    pg.proxy.setDelay(0);
  }
}, 30_000);
