// Redis loses the counters while the ledger they are rebuilt from is down too. Regression test from an
// audit: every call got 503 store_unavailable ("cannot reach its counter store") though Redis answered,
// each waited up to 3.5 s for the rebuild to retry the ledger, and the log flapped between "counter store
// unreachable" and "reachable again" (8 lines in 11 s per instance).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { rawCommand, usePrivateRedis } from './helpers/redis-servers.js';

const redis = usePrivateRedis();
let place: LedgerPlace;
let gateway: RunningProcess;

beforeAll(async () => {
  place = await postgresPlace();
  gateway = await startCli(['serve', '--port', '0', '--config', writeConfig(`
storage: {counters: "${redis.url}", ledger: "${place.url}", on_store_error: fail_closed}
ledger: {flush_interval_ms: 50}
providers: {demo: {type: mock, output_tokens: 5}}
projects: {p: {daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a, project: p}]
`)]);
}, 30_000);
afterAll(async () => {
  await gateway?.stop('SIGKILL'); // its last flush has no database to go to
});

const call = () =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-a', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
  });

it('refuses with counters_not_rebuilt at once, says so once, and does not call Redis unreachable', async () => {
  expect((await call()).status).toBe(200);
  await place.drop(); // the ledger's database is gone
  await rawCommand(redis.port, 'FLUSHALL'); // and Redis lost the counters
  for (let i = 0; i < 5; i++) {
    const res = await call();
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await res.json()).error.code).toBe('counters_not_rebuilt');
  }
  const log = gateway.output();
  expect(log.match(/counters lost by the store and not rebuilt yet/g)).toHaveLength(1);
  expect(log).not.toMatch(/counter store unreachable|reachable again/);
}, 30_000);
