// Review (session 27): `tollgate usage --by group` puts a call in one row per group its key was in. Until
// this session a key could list a group twice (`groups: [ml, ml]`, refused since 9e4bbd0), and the ledger
// keeps such calls' groups as recorded: each was counted twice in its group's row, on either ledger.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ledger } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { usageReport } from '../src/ledger/usage-report.js';
import { LEDGER_KINDS, type LedgerPlace } from './helpers/ledgers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';

const ROWS = [
  sampleRow({ ts: T0, requestId: 'twice-1', keyId: 'old-key', groups: ['ml', 'ml'], inputTokens: 100, outputTokens: 10, costUsd: 0.001 }),
  sampleRow({ ts: T0 + 1, requestId: 'twice-2', keyId: 'other', groups: ['ml', 'beta'], inputTokens: 200, outputTokens: 20, costUsd: 0.002 }),
];
const PERIOD = { sinceMs: T0 - 1000, untilMs: T0 + 86_400_000, timezone: 'UTC' };

describe.each(LEDGER_KINDS)('a call whose key listed a group twice: $kind', ({ place: makePlace }) => {
  let place: LedgerPlace;
  let ledger: Ledger;

  beforeAll(async () => {
    place = await makePlace();
    ledger = await openLedger(place.url);
    await ledger.append(ROWS);
  });
  afterAll(async () => {
    await ledger?.close();
    await place?.drop();
  });

  it('is in that group once', async () => {
    for (const by of [['group'], ['group', 'key'], ['group', 'day'], ['group', 'tag:feature']] as const) {
      const report = await usageReport(ledger, { ...PERIOD, by: [...by] });
      const ml = report.rows.filter((r) => r.keys.group === 'ml');
      expect(ml.reduce((n, r) => n + r.calls, 0), by.join(',')).toBe(2);
      expect(ml.reduce((n, r) => n + r.totalTokens, 0), by.join(',')).toBe(330);
    }
  });
});
