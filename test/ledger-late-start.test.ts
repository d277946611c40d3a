// A gateway started while its PostgreSQL ledger is down. Regression test: it refused to start
// ("storage.ledger: cannot open ...: ECONNREFUSED"), so during a database outage every gateway that
// restarted (a deploy, a crash, a node drained) stayed down, though its counters were safe in Redis.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE } from '../src/ledger/ledger-sql.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { startDelayProxy, type DelayProxy } from './helpers/redis-delay-proxy.js';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';
import { freeStablePort } from './helpers/stable-port.js';

/** A local port nothing listens on (yet), out of the ephemeral range: the gateway retries it meanwhile (stable-port.ts). */
const closedPort = (): Promise<number> => freeStablePort();

const config = (counters: string, ledgerUrl: string): string => `
server: {admin_key: admin-secret}
storage: {counters: "${counters}", ledger: "${ledgerUrl}"}
ledger: {flush_interval_ms: 50}
providers: {demo: {type: mock, output_tokens: 5}}
projects: {p: {daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a, project: p}]
`;

const call = (url: string): Promise<Response> =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-a', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('a gateway started while its ledger database is down', () => {
  let redis: RedisServer;
  let place: LedgerPlace;
  let port: number;
  let ledgerUrl: string;
  let proxy: DelayProxy | undefined;
  let gateway: RunningProcess | undefined;

  beforeAll(async () => {
    redis = await startRedisServer();
    place = await postgresPlace();
    port = await closedPort();
    const url = new URL(place.url);
    url.port = String(port);
    ledgerUrl = url.toString();
  }, 30_000);
  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await proxy?.close();
    await redis?.stop();
    await place?.drop();
  });

  it('serves with Redis counters, and writes every row once the database answers', async () => {
    gateway = await startCli(['serve', '--port', '0', '--config', writeConfig(config(redis.url, ledgerUrl))], { TOLLGATE_LOG_LEVEL: 'info' });
    expect(gateway.output()).toMatch(/ledger database unreachable at start; serving with the counters in the shared store/);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(gateway.url);
      expect(res.status).toBe(200);
      ids.push(res.headers.get('x-tollgate-request-id')!);
    }
    // Reports need the ledger: a clear 503 meanwhile.
    const report = await fetch(`${gateway.url}/api/tokens/dashboard`, { headers: { authorization: 'Bearer admin-secret' } });
    expect(report.status).toBe(503);
    expect((await report.json()).error.code).toBe('ledger_unavailable');

    // The database comes (here: a proxy to it starts listening on the configured port).
    proxy = await startDelayProxy(Number(new URL(place.url).port || 5432), port);
    const db = postgres(place.url, { max: 1, onnotice: () => {} });
    try {
      let written: string[] = [];
      for (let waited = 0; waited < 25_000 && written.length < ids.length; waited += 250) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        written = await db
          .unsafe(`SELECT request_id FROM ${TABLE}`)
          .then((rows) => rows.map((r) => r.request_id as string))
          .catch(() => []);
      }
      expect(written.sort()).toEqual([...ids].sort());
    } finally {
      await db.end();
    }
    expect(gateway.output()).toMatch(/ledger database reachable; the rows kept meanwhile are being written/);
    expect((await fetch(`${gateway.url}/api/tokens/dashboard`, { headers: { authorization: 'Bearer admin-secret' } })).status).toBe(200);
  }, 60_000);

  it('does not start with memory counters, which are rebuilt from the ledger, and says why', async () => {
    const unreachable = ledgerUrl.replace(`:${port}/`, `:${await closedPort()}/`);
    await expect(startCli(['serve', '--port', '0', '--config', writeConfig(config('memory', unreachable))])).rejects.toThrow(
      /exited with 1[\s\S]*cannot open .*ECONNREFUSED.*memory counters are rebuilt from the ledger at start, so the gateway cannot start without it/,
    );
  });
});
