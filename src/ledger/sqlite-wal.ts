// Turning a SQLite file to WAL when other processes open it at the same moment (gateways of one fleet
// starting together on a fresh file). The conversion needs the file to itself, and a connection that
// finds another one converting or writing fails at once with "database is locked": SQLite runs no busy
// handler there, so busy_timeout does not help. It is retried here, with back-off, within a bound.
//
// The body is a string, run by the main thread and by the writer thread (whose code is inline text,
// sqlite-writer-thread.ts), so both open the file the same way. The pause is Atomics.wait: the worker
// has no event loop to give back while it starts, and on the main thread this happens once, at start.

/** How long a start waits for other processes converting or writing the file, like busy_timeout's 5 s. */
export const WAL_SWITCH_TIMEOUT_MS = 5000;

/** `(db, timeoutMs) => void`: the file is in WAL mode afterwards (an in-memory database keeps its own mode). */
export const WAL_SWITCH_BODY = `
const deadline = Date.now() + timeoutMs;
const pause = new Int32Array(new SharedArrayBuffer(4));
for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
  try {
    // WAL is a property of the file: once converted, opening it again takes no lock for this.
    if (db.pragma('journal_mode', { simple: true }) === 'wal') return;
    db.pragma('journal_mode = WAL');
    return;
  } catch (err) {
    if (!String(err && err.code).startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw err;
  }
  Atomics.wait(pause, 0, 0, wait);
}
`;
