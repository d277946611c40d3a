// Report queries on the PostgreSQL ledger (dashboard, `tollgate usage`, counter rebuild, audit) read up to
// millions of rows, so their estimated cost passes jit_above_cost, and PostgreSQL compiles each one to
// machine code first: ~100-260 ms per query on a 3M-row ledger, more than an index-only scan of a month
// of one organization takes, and paid again by every query (nothing is cached between statements).
// Switched off for the report's own transaction only (SET LOCAL), not for the connection: the setting
// leaves with the transaction, so it holds behind a transaction-pooling PgBouncer too, which does not
// pass settings given at connect time.
import type postgres from 'postgres';
import { inTransaction } from './postgres-transaction.js';

/** Runs one read-only report statement with JIT compilation off. */
export async function readWithoutJit(sql: postgres.Sql, text: string, params: readonly unknown[] = []): Promise<postgres.RowList<postgres.Row[]>> {
  return inTransaction(sql, async (tx) => {
    await tx.unsafe('SET LOCAL jit = off');
    return tx.unsafe(text, params as postgres.ParameterOrJSON<never>[]);
  }) as Promise<postgres.RowList<postgres.Row[]>>;
}

/** The same, handing each row to `visit` as it is read from the socket instead of collecting the result. */
export async function eachWithoutJit(sql: postgres.Sql, text: string, params: readonly unknown[], visit: (row: postgres.Row) => void): Promise<void> {
  await inTransaction(sql, async (tx) => {
    await tx.unsafe('SET LOCAL jit = off');
    await tx.unsafe(text, params as postgres.ParameterOrJSON<never>[]).forEach(visit);
  });
}
