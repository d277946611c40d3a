// The PostgreSQL ledger refusing writes for a while, as an SRE sees it in the logs. Regression tests from
// an SRE pass: the failures were logged every 5 s, but nothing said when writes succeeded again, so a log
// gone quiet read the same whether the ledger was back or the logging had stopped; and a shutdown that
// gave up on a database that did not answer named its own deadline, not the database's error.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerWriter } from '../src/ledger/batch-writer.js';
import { TABLE } from '../src/ledger/ledger-sql.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { postgresPlace, stallablePostgres, type LedgerPlace } from './helpers/ledgers.js';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { sampleRow, T0 } from './helpers/sample-row.js';
import { until } from './helpers/until.js';

const call = (url: string, i: number): Promise<Response> =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-sre', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `hi ${i}` }] }),
  });

describe('a gateway whose ledger refuses writes for a while', () => {
  let place: LedgerPlace;
  let db: postgres.Sql;
  let gateway: RunningProcess | undefined;

  beforeAll(async () => {
    place = await postgresPlace();
    db = postgres(place.url, { max: 1, onnotice: () => {} });
  }, 30_000);
  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await db?.end();
    await place?.drop();
  });

  it('logs the failures, then one line when writes succeed again, and every row is written once', async () => {
    const config = writeConfig(`
storage: {counters: memory, ledger: "${place.url}"}
ledger: {flush_interval_ms: 50}
providers: {demo: {type: mock, output_tokens: 5}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: sre, key: tg-sre}]
`);
    gateway = await startCli(['serve', '--config', config, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
    // The table gone for a while (a migration gone wrong, a restore in progress): every insert is refused.
    await db.unsafe(`ALTER TABLE ${TABLE} RENAME TO ledger_set_aside`);
    for (let i = 0; i < 3; i++) {
      const r = await call(gateway.url, i);
      expect(r.status, await r.text()).toBe(200);
    }
    await until(() => /ledger write failed; rows are kept and retried/.test(gateway!.output()), 5000);
    expect(gateway.output()).not.toMatch(/ledger writes succeed again/);

    await db.unsafe(`ALTER TABLE ledger_set_aside RENAME TO ${TABLE}`);
    await until(() => /ledger writes succeed again/.test(gateway!.output()), 10_000);
    const recovered = gateway
      .output()
      .split('\n')
      .filter((l) => l.includes('ledger writes succeed again'))
      .map((l) => JSON.parse(l) as { level: number; failedWrites: number });
    expect(recovered).toHaveLength(1);
    expect(recovered[0].level).toBe(30); // info: good news, next to the errors it ends
    expect(recovered[0].failedWrites).toBeGreaterThan(0);

    const [{ rows, ids }] = await db.unsafe(`SELECT count(*)::int AS rows, count(DISTINCT request_id)::int AS ids FROM ${TABLE}`);
    expect({ rows, ids }).toEqual({ rows: 3, ids: 3 });
    const metrics = families(await scrapeText(gateway.url));
    expect(sum(metrics.get('tollgate_ledger_pending_rows'))).toBe(0);
    expect(sum(metrics.get('tollgate_ledger_rows_written_total'))).toBe(3);
    expect(sum(metrics.get('tollgate_ledger_write_failures_total'))).toBeGreaterThan(0);
  }, 40_000);
});

describe('a shutdown that gives up on a database that does not answer', () => {
  let pg: Awaited<ReturnType<typeof stallablePostgres>>;
  beforeAll(async () => {
    pg = await stallablePostgres();
  }, 30_000);
  afterAll(async () => {
    pg?.proxy.setDelay(0);
    await pg?.close();
  });

  it("names the database's own error, not only its deadline", async () => {
    const ledger = await openLedger(pg.url);
    try {
      const writer = new LedgerWriter(ledger, { flushIntervalMs: 50, batchSize: 100, maxBufferedRows: 1000, writeTimeoutMs: 400 });
      for (let i = 0; i < 4; i++) writer.push(sampleRow({ ts: T0 + i, requestId: `sre-frozen-${i}` }));
      pg.proxy.setDelay(60_000);
      await expect(writer.flush()).rejects.toThrow('the ledger did not answer within 400 ms');
      // The deadline comes while a write is still out: the reason the earlier writes failed must still show.
      await expect(writer.close(250)).rejects.toThrow(/^4 rows could not be written: not written within 250 ms \(last error: the ledger did not answer within 400 ms\)$/);
    } finally {
      pg.proxy.setDelay(0);
      await ledger.close();
    }
  }, 20_000);
});
