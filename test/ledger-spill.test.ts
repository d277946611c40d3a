// Gateways whose PostgreSQL goes away (an SRE restarting pods while the database fails over). Regression
// tests from a FinOps pass: after 15 s of retries at shutdown the process exited 1 and the rows it held
// were lost for good, and rows past ledger.max_buffered_rows were dropped. Now they go to the spill file,
// and the next gateway on the same spill directory (or the same one, once the database is back) writes
// them into the ledger, each once, a torn line in the file notwithstanding. Spawns dist/: `npm run build` first.
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { describe, expect, it, type TestContext } from 'vitest';
import { TABLE } from '../src/ledger/ledger-sql.js';
import { startCuttableProxy, type CuttableProxy } from './helpers/cuttable-proxy.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { startRedisServer } from './helpers/redis-servers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';
import { until } from './helpers/until.js';
import { ledgerTag, SpillFile } from '../src/ledger/spill-file.js';

const call = (url: string, i: number): Promise<Response> =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-fin', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `hi ${i}` }] }),
  });

const configFor = (ledgerUrl: string, spillDir: string, ledger = '', counters = 'memory'): string =>
  writeConfig(`
storage: {counters: "${counters}", ledger: "${ledgerUrl}"}
ledger: {flush_interval_ms: 50, spill_dir: "${spillDir}"${ledger}}
providers: {demo: {type: mock, output_tokens: 5}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: fin, key: tg-fin}]
`);

const INFO = { TOLLGATE_LOG_LEVEL: 'info' };
/** A minute to start: the tests run side by side, their gateways starting at once on a busy 2-core machine. */
const START_MS = 60_000;

/** The JSON log lines of a process whose message matches. */
const logLines = (p: RunningProcess, msg: RegExp): Array<Record<string, unknown>> =>
  p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => msg.test(String(l.msg)));

/**
 * A test's own database, the proxy its gateways reach it through, and spill directory: nothing is shared,
 * so the tests run side by side (12-07: one after another, 19 s, mostly process start-ups and the waits on
 * the writer's and the late ledger's retries). All stopped and removed when the test ends.
 */
async function awayDatabase(onTestFinished: TestContext['onTestFinished']) {
  const place: LedgerPlace = await postgresPlace();
  const db = postgres(place.url, { max: 1, onnotice: () => {} });
  const proxy: CuttableProxy = await startCuttableProxy(5432);
  const spillDir = mkdtempSync(join(tmpdir(), 'tollgate-spill-'));
  const gateways: RunningProcess[] = [];
  onTestFinished(async () => {
    for (const g of gateways.splice(0)) await g.stop('SIGKILL');
    await proxy.cut();
    await db.end();
    await place.drop();
    rmSync(spillDir, { recursive: true, force: true });
  });
  const count = async (): Promise<{ rows: number; ids: number }> => {
    const [r] = await db.unsafe(`SELECT count(*)::int AS rows, count(DISTINCT request_id)::int AS ids FROM ${TABLE}`);
    return { rows: Number(r.rows), ids: Number(r.ids) };
  };
  const viaProxy = (): string => {
    const url = new URL(place.url);
    url.port = String(proxy.port);
    return url.toString();
  };
  return { place, proxy, spillDir, gateways, count, viaProxy };
}

describe.concurrent('a gateway whose PostgreSQL goes away', () => {

  it('at shutdown spills the rows it could not write, and the next start writes each into the ledger once', async ({ onTestFinished }) => {
    const { place, proxy, spillDir, gateways, count, viaProxy } = await awayDatabase(onTestFinished);
    // Retrying for 500 ms at shutdown (1000 before 12-07: the spill is what is checked, not the retries).
    const first = await startCli(['serve', '--config', configFor(viaProxy(), spillDir, ', shutdown_flush_ms: 500'), '--port', '0'], INFO, START_MS);
    gateways.push(first);
    for (let i = 0; i < 3; i++) expect((await call(first.url, i)).status).toBe(200);
    await until(async () => (await count()).rows === 3, 5000);
    // And the gateway knows they are: a batch committed whose answer the cut below stops is kept in the spill
    // file too (rightly: not known to be written; the replay skips it), which made 9 lines of 7 once.
    await until(async () => /^tollgate_ledger_pending_rows 0$/m.test(await (await fetch(`${first.url}/metrics`)).text()), 5000);

    // The database goes away: the gateway serves on (memory counters), its rows wait in memory.
    await proxy.cut();
    for (let i = 3; i < 10; i++) expect((await call(first.url, i)).status).toBe(200);
    const stopping = Date.now();
    const code = await first.stop('SIGTERM'); // retries for shutdown_flush_ms (15 s by default), then spills
    expect(code).toBe(0); // nothing was lost
    expect(Date.now() - stopping).toBeLessThan(10_000);
    const spills = readdirSync(spillDir).filter((n) => n.endsWith('.ndjson'));
    expect(spills).toHaveLength(1);
    const file = join(spillDir, spills[0]);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(7);
    expect(logLines(first, /did not take 7 rows before shutdown/)).toEqual([expect.objectContaining({ rows: 7, file, level: 50 })]);
    expect(first.output()).not.toMatch(/ledger flush failed at shutdown/);
    expect(await count()).toEqual({ rows: 3, ids: 3 });

    // A crash while a line was being appended leaves it torn: the start goes on with the good lines.
    appendFileSync(file, '{"row":{"ts":17');
    const second = await startCli(['serve', '--config', configFor(place.url, spillDir), '--port', '0'], INFO, START_MS);
    gateways.push(second);
    expect(await count()).toEqual({ rows: 10, ids: 10 });
    expect(logLines(second, /^replayed 7 spilled ledger rows/)).toEqual([expect.objectContaining({ rows: 7, file })]);
    expect(logLines(second, /lines of a spill file could not be replayed/)).toEqual([expect.objectContaining({ lines: 1, keptIn: `${file}.rejected` })]);
    // Replayed before the counters are rebuilt from the ledger, so the restarted limits count those calls.
    const out = second.output();
    expect(out.indexOf('replayed 7 spilled')).toBeLessThan(out.indexOf('counters rebuilt from the ledger'));
    expect(readdirSync(spillDir)).toEqual([`${spills[0]}.rejected`]);
    expect(readFileSync(`${file}.rejected`, 'utf8')).toBe('{"row":{"ts":17\n');

    // Served on the restarted gateway, a call is written as usual; the replayed rows are not written again.
    expect((await call(second.url, 10)).status).toBe(200);
    await until(async () => (await count()).rows === 11, 5000);
    expect(await second.stop('SIGTERM')).toBe(0);
    expect(await count()).toEqual({ rows: 11, ids: 11 });
  }, 60_000);

  it('with its buffer full moves the oldest rows to the spill file, and writes them once the database is back', async ({ onTestFinished }) => {
    const { proxy, spillDir, gateways, count, viaProxy } = await awayDatabase(onTestFinished);
    const gateway = await startCli(['serve', '--config', configFor(viaProxy(), spillDir, ', batch_size: 2, max_buffered_rows: 3'), '--port', '0'], INFO, START_MS);
    gateways.push(gateway);
    await proxy.cut();
    for (let i = 0; i < 8; i++) expect((await call(gateway.url, i)).status).toBe(200);
    await until(() => /ledger write buffer full; oldest rows moved to the spill file/.test(gateway.output()), 5000);
    expect(gateway.output()).not.toMatch(/oldest rows dropped/);

    await proxy.resume();
    await until(async () => (await count()).rows === 8, 15_000);
    // Replayed while it runs, not at the next start: the file is gone once its rows are in.
    await until(() => readdirSync(spillDir).length === 0, 5000);
    // Its log line comes through the child's stdout pipe, which may lag the file's removal (CI saw none yet).
    await until(() => logLines(gateway, /^replayed \d+ spilled ledger rows/).length > 0, 5000);
    const replayed = logLines(gateway, /^replayed \d+ spilled ledger rows/).map((l) => l.rows as number);
    expect(replayed.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    // Counted on /metrics as spilled, not dropped.
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    const total = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(total('tollgate_ledger_rows_spilled_total')).toBe(replayed.reduce((a, b) => a + b, 0));
    expect(total('tollgate_ledger_rows_dropped_total')).toBe(0);
    expect(await gateway.stop('SIGTERM')).toBe(0);
    expect(await count()).toEqual({ rows: 8, ids: 8 });
  }, 60_000);

  it('started while the database is away (counters in Redis), replays the spill file once the ledger opens', async ({ onTestFinished }) => {
    const { place, proxy, spillDir, gateways, count, viaProxy } = await awayDatabase(onTestFinished);
    const redis = await startRedisServer();
    try {
      const earlier = new SpillFile(spillDir, ledgerTag(`postgres:${new URL(place.url).pathname.slice(1)}`));
      earlier.append([0, 1, 2].map((i) => JSON.stringify({ row: sampleRow({ ts: T0 + i, requestId: `earlier-${i}` }) })), 3);
      earlier.close();
      await proxy.cut();
      const gateway = await startCli(['serve', '--config', configFor(viaProxy(), spillDir, '', redis.url), '--port', '0'], INFO, START_MS);
      gateways.push(gateway);
      expect(gateway.output()).toMatch(/ledger database unreachable at start/);
      expect((await call(gateway.url, 0)).status).toBe(200);
      expect(readdirSync(spillDir).filter((n) => n.endsWith('.ndjson'))).toHaveLength(1);

      await proxy.resume();
      // No table until the gateway reaches the database and migrates it.
      await until(async () => (await count().catch(() => ({ rows: -1 }))).rows === 4, 25_000);
      await until(() => readdirSync(spillDir).length === 0, 5000);
      expect(logLines(gateway, /^replayed 3 spilled ledger rows/)).toHaveLength(1);
      // The rebuild follows the replay, and may log after the rows are counted: wait for its line.
      await until(() => gateway.output().includes('counters rebuilt from the ledger'), 10_000);
      const out = gateway.output();
      expect(out.indexOf('replayed 3 spilled')).toBeLessThan(out.indexOf('counters rebuilt from the ledger'));
      expect(await gateway.stop('SIGTERM')).toBe(0);
      expect(await count()).toEqual({ rows: 4, ids: 4 });
    } finally {
      await redis.stop();
    }
  }, 60_000);
});
