// Writing rows to a ledger that may refuse one of them for what it holds (PostgreSQL: a NUL in a text, a
// value out of range). A batch so refused is halved until the refused rows are alone, and those are set
// aside: retried whole, it would fail for ever and hold back every later row. Halves written before a later
// failure are written again on a retry, which skips them (inserts ignore rows already there).
import type { Ledger, LedgerRow } from './ledger.js';

/** Appends `rows`; each refused row goes to `onRefused`, and how many were is returned. Other failures reject. */
export async function appendSettingAside(ledger: Ledger, rows: LedgerRow[], onRefused: (row: LedgerRow, err: Error) => void): Promise<number> {
  try {
    await ledger.append(rows);
    return 0;
  } catch (err) {
    if (!ledger.refusesRow?.(err)) throw err;
    if (rows.length === 1) {
      onRefused(rows[0], err as Error);
      return 1;
    }
    const half = Math.ceil(rows.length / 2);
    return (await appendSettingAside(ledger, rows.slice(0, half), onRefused)) + (await appendSettingAside(ledger, rows.slice(half), onRefused));
  }
}
