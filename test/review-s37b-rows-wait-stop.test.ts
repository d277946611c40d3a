// Review s37b of ba8d95c: the ledger rows of fail_open calls admitted locally while a rebuild of lost
// counters is held up wait in memory (rows-after-rebuild.ts, usage-services.ts) until the rebuild ends. What
// a SIGTERM and a config reload (SIGHUP) do to them. The gateway (the built CLI) on a private redis-server
// and a PostgreSQL ledger whose table another connection holds locked (the rebuild's read waits on it).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { createMockUpstream } from '../src/mock-upstream/index.js';
import { lockLedgerTable } from './helpers/ledger-lock.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { servedAtMidday } from './helpers/midday-zone.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { rawCommand, usePrivateRedis } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const WAIT_MS = 300;
const BUDGET = 100_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const redis = usePrivateRedis();
let upstream: ReturnType<typeof createMockUpstream>;
let mockUrl: string;
let place: LedgerPlace | undefined;
let gateway: RunningProcess | undefined;
let locker: postgres.Sql | undefined;

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 20 });
  mockUrl = await upstream.listen(0, '127.0.0.1');
}, 30_000);
afterAll(async () => {
  await upstream?.close();
});
afterEach(async () => {
  await locker?.end({ timeout: 1 });
  await gateway?.stop();
  await place?.drop();
  locker = gateway = place = undefined;
});

const config = (url: string, ledger = ''): string =>
  servedAtMidday(`
storage: {counters: "${redis.url}", ledger: "${url}", on_store_error: fail_open, rebuild_wait_ms: ${WAIT_MS}}
ledger: {flush_interval_ms: 50${ledger}}
providers:
  up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}
organizations: {org_s37b: {}}
projects: {p_s37b: {daily_limit: ${BUDGET}}}
routes:
  r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}
keys: [{id: k, key: tg-k, organization: org_s37b, project: p_s37b}]
`);

async function start(name: string, ledger = ''): Promise<{ file: string }> {
  await rawCommand(redis.port, 'FLUSHALL');
  place = await postgresPlace();
  const file = writeConfig(config(place.url, ledger), name);
  gateway = await startCli(['serve', '--port', '0', '--config', file], { TOLLGATE_LOG_LEVEL: 'info' });
  locker = postgres(place.url, { max: 1, onnotice: () => {} });
  return { file };
}

interface Answer {
  status: number;
  id: string;
  tokens: number;
  remaining: number;
}

async function chat(): Promise<Answer> {
  const res = await fetch(`${gateway!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { usage?: { prompt_tokens: number; completion_tokens: number } };
  return {
    status: res.status,
    id: res.headers.get('x-tollgate-request-id') ?? '',
    tokens: body.usage ? body.usage.prompt_tokens + body.usage.completion_tokens : 0,
    remaining: Number(res.headers.get('x-ratelimit-remaining-tokens')),
  };
}

/** Rows per request id, and the tokens of all rows, as the ledger has them. */
async function ledgerRows(url: string): Promise<{ byId: Map<string, number>; tokens: number; rows: number }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<Array<{ request_id: string; n: string; t: string }>>`SELECT request_id, count(*) AS n, sum(input_tokens + output_tokens) AS t FROM tollgate_ledger GROUP BY request_id`;
    const byId = new Map(rows.map((r) => [r.request_id, Number(r.n)]));
    return { byId, tokens: rows.reduce((a, r) => a + Number(r.t), 0), rows: rows.reduce((a, r) => a + Number(r.n), 0) };
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Calls answered before the loss, their rows flushed; then the table locked and the counters lost. */
async function warmLockAndLose(answered: Answer[]): Promise<() => void> {
  for (let i = 0; i < 3; i++) answered.push(await chat());
  await sleep(250); // flushed every 50 ms
  const release = await lockLedgerTable(locker!);
  await rawCommand(redis.port, 'FLUSHALL');
  return release;
}

describe('review s37b: rows waiting for a held rebuild of lost counters', () => {
  // Holds: at SIGTERM the store releases every waiting row (stop-gateway.ts: store.stopping()), the writer
  // takes them and the flush at close writes them once the lock goes; the process exits 0 and each call
  // answered has exactly one row. 4 calls admitted locally, SIGTERM 300 ms later, lock released 500 ms after.
  it('SIGTERM while rows wait: exit 0, every answered call has exactly one ledger row', async () => {
    await start('s37b-stop.yaml');
    const answered: Answer[] = [];
    const release = await warmLockAndLose(answered);
    let unlocked = false;
    try {
      const during = await Promise.all([chat(), chat(), chat(), chat()]);
      for (const a of during) expect(a.status).toBe(200); // admitted locally after rebuild_wait_ms
      answered.push(...during);
      const exited = gateway!.stop('SIGTERM');
      await sleep(500);
      release();
      unlocked = true;
      expect(await exited).toBe(0);
    } finally {
      if (!unlocked) release();
    }
    const { byId, rows } = await ledgerRows(place!.url);
    expect(answered.map((a) => byId.get(a.id) ?? 0)).toEqual(answered.map(() => 1));
    expect(rows).toBe(answered.length);
  }, 20_000);

  // A SIGHUP while rows wait: the reload's own rebuild (rebuildFor) reads the locked table too; the old
  // gateway's rows are still written once after the lost counters' rebuild, and the counters, read by one
  // more call, match what was spent (no double count through the reload's rebuild either).
  it('a config reload while rows wait: each row once, and the counters exact afterwards', async () => {
    await start('s37b-reload.yaml');
    const answered: Answer[] = [];
    const release = await warmLockAndLose(answered);
    try {
      const during = await Promise.all([chat(), chat(), chat()]);
      for (const a of during) expect(a.status).toBe(200);
      answered.push(...during);
      gateway!.child.kill('SIGHUP');
      await sleep(WAIT_MS + 200); // the reload applies after rebuild_wait_ms with its rebuild still held
      const later = await chat(); // admitted under the new gateway, locally still (the rebuild is held)
      expect(later.status).toBe(200);
      answered.push(later);
    } finally {
      release();
    }
    await until(() => /counters rebuilt from the ledger/.test(gateway!.output().split('rebuilding them from the ledger').at(-1)!), 10_000);
    await until(() => /configuration reloaded/.test(gateway!.output()), 10_000);
    await sleep(400); // the replay after the rebuild, the rows' flush
    const last = await chat();
    answered.push(last);
    const spent = answered.reduce((a, c) => a + c.tokens, 0);
    expect(last.remaining).toBe(BUDGET - spent);
    await sleep(250);
    const { byId, rows, tokens } = await ledgerRows(place!.url);
    expect(answered.map((a) => byId.get(a.id) ?? 0)).toEqual(answered.map(() => 1));
    expect(rows).toBe(answered.length);
    expect(tokens).toBe(spent);
  }, 20_000);

  // The lock outlasts the shutdown flush (shutdown_flush_ms 500): the released rows go to the spill file,
  // and the next start writes them. The lock goes while the close still waits on the batch it held, which
  // commits: the spill replay must not add them again. Each answered call still has exactly one row.
  it('SIGTERM while rows wait and the lock outlasts the shutdown flush: spilled, written at the next start, once', async () => {
    const { file } = await start('s37b-spill.yaml', ', shutdown_flush_ms: 500');
    const answered: Answer[] = [];
    const release = await warmLockAndLose(answered);
    let code: number | null;
    try {
      const during = await Promise.all([chat(), chat(), chat()]);
      for (const a of during) expect(a.status).toBe(200);
      answered.push(...during);
      const exited = gateway!.stop('SIGTERM');
      // Released after the spill (500 ms), while the close still waits on the batch the lock held: that
      // batch then commits too, so the rows are both in the ledger and in the spill file.
      await sleep(900);
      release();
      code = await exited;
    } finally {
      release();
    }
    expect(code).toBe(0);
    await locker!.end({ timeout: 1 });
    locker = undefined;
    gateway = await startCli(['serve', '--port', '0', '--config', file], { TOLLGATE_LOG_LEVEL: 'info' });
    const { byId, rows } = await ledgerRows(place!.url);
    expect(answered.map((a) => byId.get(a.id) ?? 0)).toEqual(answered.map(() => 1));
    expect(rows).toBe(answered.length);
  }, 20_000);
});
