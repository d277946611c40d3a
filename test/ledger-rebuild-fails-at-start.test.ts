// A gateway with memory counters whose rebuild from the ledger fails at start: here PostgreSQL's
// statement_timeout cancels the sums while another session holds the ledger table locked (a migration,
// maintenance); a connection cut while they are read fails the same way. Regression test from a QA pass
// on the ledger: the failure was logged and the gateway served with empty counters, so a project that had
// spent its daily limit (3 calls admitted, then 429) was admitted 3 calls more after the restart.
// Spawns dist/: `npm run build` first.
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lockLedgerTable } from './helpers/ledger-lock.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { startCli, writeConfig } from './helpers/processes.js';

let place: LedgerPlace;
let admin: postgres.Sql;
beforeAll(async () => {
  place = await postgresPlace();
  admin = postgres(place.url, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await admin?.end();
  await place?.drop();
});

const call = async (url: string): Promise<number> =>
  (
    await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer tg-a', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    })
  ).status;

it('does not start with memory counters it could not rebuild, and says why', async () => {
  const config = writeConfig(`
storage: {counters: memory, ledger: "${place.url}"}
providers: {demo: {type: mock, output_tokens: 10}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
projects: {p: {daily_limit: 60}}
keys: [{id: a, key: tg-a, project: p}]
`);
  const first = await startCli(['serve', '--config', config, '--port', '0']);
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push(await call(first.url));
  expect(statuses).toEqual([200, 200, 200, 429]); // the day's budget is spent
  expect(await first.stop()).toBe(0);

  await admin.unsafe(`ALTER DATABASE ${new URL(place.url).pathname.slice(1)} SET statement_timeout = 1000`);
  const release = await lockLedgerTable(admin);
  try {
    const second = await startCli(['serve', '--config', config, '--port', '0']).then(
      async (gw) => `started, and admitted ${await call(gw.url)}; exit ${await gw.stop()}`,
      (err: Error) => err.message,
    );
    expect(second).toMatch(
      /exited with 1[\s\S]*storage\.ledger: could not rebuild the counters from postgres:\/\/.*: canceling statement due to statement timeout \(memory counters are rebuilt from the ledger at start, so the gateway cannot start without it/,
    );
  } finally {
    release();
  }
}, 30_000);
