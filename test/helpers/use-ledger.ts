// A ledger for the tests of one describe block (or file), opened before them and closed and removed after.
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { sqlitePlace, type LedgerPlace } from './ledgers.js';

export interface UsedLedger {
  ledger: () => Ledger;
  place: () => LedgerPlace;
}

/**
 * In the calling describe block: a new ledger (`place`, SQLite by default), filled by `seed` when given,
 * made before all its tests (before each one, with `each`, for tests that change it) and closed and
 * dropped after them. Returns getters for the ledger and its place, once made.
 */
export function useLedger(
  opts: { place?: () => LedgerPlace | Promise<LedgerPlace>; seed?: (ledger: Ledger) => Promise<void>; each?: boolean } = {},
): UsedLedger {
  let place: LedgerPlace | undefined;
  let ledger: Ledger | undefined;
  (opts.each ? beforeEach : beforeAll)(async () => {
    place = await (opts.place ?? sqlitePlace)();
    ledger = await openLedger(place.url);
    await opts.seed?.(ledger);
  });
  (opts.each ? afterEach : afterAll)(async () => {
    await ledger?.close();
    await place?.drop();
  });
  return { ledger: () => ledger!, place: () => place! };
}
