// Holds the PostgreSQL ledger's table locked from another connection, as a migration or an operator's
// `LOCK TABLE` would: every query on it (a counter rebuild's sums) waits until the lock goes.
import type postgres from 'postgres';

/**
 * Takes a lock on the ledger table through `sql` (ACCESS EXCLUSIVE: every query waits; EXCLUSIVE: writes
 * wait, reads go on); resolves, once held, to the function that releases it.
 */
export async function lockLedgerTable(sql: postgres.Sql, mode: 'ACCESS EXCLUSIVE' | 'EXCLUSIVE' = 'ACCESS EXCLUSIVE'): Promise<() => void> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  await new Promise<void>((locked, failed) => {
    sql
      .begin(async (tx) => {
        await tx.unsafe(`LOCK TABLE tollgate_ledger IN ${mode} MODE`);
        locked();
        await released;
      })
      .catch(failed);
  });
  return release;
}
