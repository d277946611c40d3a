// Report statements on the PostgreSQL ledger run without JIT compilation (src/ledger/postgres-report.ts):
// on a 3M-row ledger it cost 20-260 ms per query, more than the query's own scan in some cases.
import { afterAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { readWithoutJit } from '../src/ledger/postgres-report.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';

describe('PostgreSQL ledger reports', () => {
  let place: LedgerPlace | undefined;
  afterAll(async () => {
    await place?.drop();
  });

  it('run with JIT compilation off, for their own transaction only', async () => {
    place = await postgresPlace();
    const sql = postgres(place.url, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe('SET jit = on');
      const [inside] = await readWithoutJit(sql, `SELECT current_setting('jit') AS jit, $1::int AS n`, [7]);
      expect(inside).toEqual({ jit: 'off', n: 7 });
      const [after] = await sql.unsafe(`SELECT current_setting('jit') AS jit`);
      expect(after.jit).toBe('on');
    } finally {
      await sql.end();
    }
  });
});
