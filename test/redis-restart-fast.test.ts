// A gateway restarting on a Redis that kept its counters starts at once: the month's sums from the ledger
// (seconds per million rows) only raise counters Redis already holds, so they run while it serves. On a
// Redis that lost them (an organization's presence marker gone) the start still waits for the rebuild,
// so no fresh budget is handed out. The ledger's table is held locked by another connection, so the
// rebuild's query waits on it for as long as the test needs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { createMockUpstream } from '../src/mock-upstream/index.js';
import { lockLedgerTable } from './helpers/ledger-lock.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { rawCommand, startRedisServer, type RedisServer } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const BUDGET = 100_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let redis: RedisServer;
let upstream: ReturnType<typeof createMockUpstream>;
let place: LedgerPlace;
let config: string;
let locker: postgres.Sql;

beforeAll(async () => {
  redis = await startRedisServer();
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 20 });
  const mockUrl = await upstream.listen(0, '127.0.0.1');
  place = await postgresPlace();
  config = writeConfig(`
storage: {counters: "${redis.url}", ledger: "${place.url}"}
ledger: {flush_interval_ms: 50}
providers:
  up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}
organizations: {acme: {}}
projects: {web: {daily_limit: ${BUDGET}}}
routes:
  r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}
keys: [{id: k, key: tg-k, organization: acme, project: web}]
`);
  locker = postgres(place.url, { max: 1, onnotice: () => {} });
}, 30_000);
afterAll(async () => {
  // Gateways a failed assertion left running (they outlived the run).
  await Promise.all(started.map((g) => g.stop('SIGKILL')));
  await locker?.end({ timeout: 1 });
  await upstream?.close();
  await redis?.stop();
  await place?.drop();
});

const started: RunningProcess[] = [];
async function start(): Promise<RunningProcess> {
  const gateway = await startCli(['serve', '--port', '0', '--config', config], { TOLLGATE_LOG_LEVEL: 'info' });
  started.push(gateway);
  return gateway;
}

/** One call: the tokens it used, and the room its answer says is left (its own usage counted). */
async function call(gateway: RunningProcess): Promise<{ spent: number; remaining: number }> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
  return { spent: body.usage.prompt_tokens + body.usage.completion_tokens, remaining: Number(res.headers.get('x-ratelimit-remaining-tokens')) };
}

describe('restarting on a shared Redis', () => {
  it('starts without waiting for the rebuild when Redis kept the counters, and waits for it when Redis lost them', async () => {
    let spent = 0;
    const first = await start();
    for (let i = 0; i < 3; i++) spent += (await call(first)).spent;
    await first.stop(); // SIGTERM: the ledger has every row

    let release = await lockLedgerTable(locker);
    let second: RunningProcess | undefined;
    try {
      // Before, the start waited for the rebuild, and so for the lock: startCli gave up after 15 s. (A
      // bound of 10 s here failed at 10.02 s on a host at load 11, with the start not waiting.)
      second = await start();
      expect(second.output()).not.toMatch(/counters rebuilt from the ledger/);
      const next = await call(second);
      spent += next.spent;
      // Redis's counters stand: nothing handed out again.
      expect(next.remaining).toBe(BUDGET - spent);
    } finally {
      release();
    }
    await until(() => /counters rebuilt from the ledger/.test(second!.output()), 30_000);
    await second.stop();

    // Redis loses everything while no gateway runs: the next start must rebuild before it serves.
    await rawCommand(redis.port, 'FLUSHALL');
    release = await lockLedgerTable(locker);
    const starting = start();
    let listening = false;
    void starting.then(() => (listening = true), () => {});
    await sleep(1500);
    expect(listening).toBe(false);
    release();
    const third = await starting;
    try {
      const next = await call(third);
      spent += next.spent;
      expect(next.remaining).toBe(BUDGET - spent);
    } finally {
      await third.stop();
    }
  }, 60_000);
});
