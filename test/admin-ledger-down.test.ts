// The admin reports when the ledger's database is gone. Regression test from an audit: /api/audit (and
// so `tollgate audit`) answered 500 internal_error "failed unexpectedly ... Nothing was charged", and the
// cause was only in the server log.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { chat, startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

let place: LedgerPlace;
let gw: UsageTestGateway;

beforeAll(async () => {
  place = await postgresPlace();
  gw = await startUsageGateway(`
server: {admin_key: admin-secret}
storage: {ledger: "${place.url}"}
providers: {demo: {type: mock, output_tokens: 5}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a}]
`);
});
afterAll(async () => {
  await gw?.close().catch(() => {}); // its last flush has nowhere to go
});

it('answers 503 ledger_unavailable naming the cause, while calls are still served', async () => {
  expect((await chat(gw.url, 'tg-a', { model: 'm' })).status).toBe(200);
  await place.drop(); // the database is gone (its connections are cut)
  expect((await chat(gw.url, 'tg-a', { model: 'm' })).status).toBe(200);
  for (const path of ['/api/audit', '/api/tokens/dashboard']) {
    const res = await fetch(gw.url + path, { headers: { authorization: 'Bearer admin-secret' } });
    expect(res.status, path).toBe(503);
    const body = await res.json();
    expect(body.error.code, path).toBe('ledger_unavailable');
    expect(body.error.message, path).toMatch(/ledger cannot be read or written right now \(.+\)/);
  }
}, 30_000);
