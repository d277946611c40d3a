// Review of the PostgreSQL ledger's reader thread (src/ledger/postgres-reader-thread.ts): a read of a million
// events through eachEvent, with a slow visitor, holds a few chunks at a time, not the result, in the main
// thread's heap and in the process as a whole (the worker's heap and socket buffers included).
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import postgres from 'postgres';
import { COLUMN_NAMES, TABLE } from '../src/ledger/ledger-sql.js';
import { PostgresLedger } from '../src/ledger/postgres-ledger.js';
import { PG_ADMIN_URL } from './helpers/ledgers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';

const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
const name = `tg_review_pgreader_${randomBytes(5).toString('hex')}`;

afterAll(async () => {
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end({ timeout: 1 });
});

it('eachEvent over 1,000,000 rows with a slow visitor keeps the heap and the process bounded', async () => {
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const ledger = new PostgresLedger(url.toString());
  try {
    await ledger.init();
    await ledger.append([sampleRow({ ts: T0, requestId: 'seed' })]);
    const db = postgres(url.toString(), { max: 1, onnotice: () => {} });
    const others = COLUMN_NAMES.filter((c) => c !== 'ts' && c !== 'request_id');
    await db.unsafe(`INSERT INTO ${TABLE} (ts, request_id, ${others.join(', ')}) SELECT ts + k, 'r-' || k, ${others.join(', ')} FROM ${TABLE}, generate_series(1, 999999) AS k`);
    await db.unsafe(`VACUUM ANALYZE ${TABLE}`);
    await db.end({ timeout: 1 });

    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    let maxHeap = 0;
    let maxRss = 0;
    let n = 0;
    await ledger.eachEvent(0, undefined, (e) => {
      n++;
      if (n % 1000 === 0) {
        const until = Date.now() + 1; // slow: ~1 ms per thousand events, on top of the folding
        while (Date.now() < until);
      }
      if (n % 20_000 === 0) {
        const m = process.memoryUsage();
        maxHeap = Math.max(maxHeap, m.heapUsed);
        maxRss = Math.max(maxRss, m.rss);
      }
      expect(e.ts).toBeGreaterThanOrEqual(T0);
    });
    expect(n).toBe(1_000_000);
    const mb = (x: number) => Math.round(x / 2 ** 20);
    console.log(`[review] heap ${mb(heapBefore)} -> max ${mb(maxHeap)} MB, rss ${mb(rssBefore)} -> max ${mb(maxRss)} MB`);
    // A million events kept would be ~300+ MB of objects; a few chunks of 1,000 are a few MB. Generous
    // bounds: garbage not yet collected counts in heapUsed.
    expect(maxHeap - heapBefore).toBeLessThan(150 * 2 ** 20);
    expect(maxRss - rssBefore).toBeLessThan(250 * 2 ** 20);
  } finally {
    await ledger.close();
  }
}, 120_000);
