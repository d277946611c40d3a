// Ending a PostgreSQL ledger's connections at once, for tests that froze or cut off its database.
import type { Ledger } from '../../src/ledger/ledger.js';

/**
 * Ends the connections of a PostgreSQL ledger now, failing whatever they still wait for. Its close() gives a
 * query still out, or a connection still being made, 5 s to end (postgres.js's end timeout), which against a
 * database the test froze or cut off never comes: 5 s of nothing but waiting. A close() after this returns at
 * once. A ledger of another kind is closed as usual.
 */
export async function endPostgresNow(ledger: Ledger): Promise<void> {
  const sql = (ledger as unknown as { sql?: { end(options: { timeout: number }): Promise<void> } }).sql;
  await (sql ? sql.end({ timeout: 0 }) : ledger.close());
}
