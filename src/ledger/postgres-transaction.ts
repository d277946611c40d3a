// Transactions on the PostgreSQL ledger that survive losing their connection. postgres.js 3.4 answers a
// transaction whose callback failed with a ROLLBACK on the same connection. When the failure was the
// connection closing (a killed backend, a restarted server, a network cut), that ROLLBACK is written to a
// socket already gone, from a timer, outside any promise: the TypeError ends the process
// (porsager/postgres#1154, fixed only in 4.x). begin() itself rejects as soon as its connection closes, so
// a callback that lost its connection is left unsettled here, and no ROLLBACK is ever written.
import type postgres from 'postgres';

/** Whether a query failed because its connection is gone, rather than because of the statement. */
export function connectionLost(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown } | null;
  if (typeof e !== 'object' || e === null) return false;
  // The driver's own (CONNECTION_CLOSED, CONNECTION_DESTROYED, CONNECTION_ENDED), the server ending the
  // session (FATAL: terminated by an administrator, shutting down), which it follows by closing the socket,
  // and the socket's own (ECONNRESET, EPIPE, ETIMEDOUT: they carry a syscall).
  const syscall = (err as { syscall?: unknown }).syscall;
  return (typeof e.code === 'string' && e.code.startsWith('CONNECTION_')) || e.severity === 'FATAL' || e.severity === 'PANIC' || typeof syscall === 'string';
}

/** sql.begin(fn), except that a connection lost mid-transaction rejects the call instead of ending the process. */
export function inTransaction<T>(sql: postgres.Sql, fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    try {
      return await fn(tx);
    } catch (err) {
      if (connectionLost(err)) return new Promise<never>(() => {});
      throw err;
    }
  }) as Promise<T>;
}
