// `tollgate usage --by group`: a report by each group a key belongs to (SPEC §5: every call is tagged with
// its key's groups, and reports go by any tag). A call of a key in two groups is in both rows; the totals
// count it once; a key in none reports as no group. Same figures on SQLite and PostgreSQL.
import { describe, expect, it } from 'vitest';
import { formatReport } from '../src/ledger/report-format.js';
import { usageReport } from '../src/ledger/usage-report.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const ROWS = [
  sampleRow({ ts: T0, requestId: 'g-1', keyId: 'ml-and-beta', groups: ['ml', 'beta'], inputTokens: 100, outputTokens: 10, costUsd: 0.001 }),
  sampleRow({ ts: T0 + 1, requestId: 'g-2', keyId: 'ml-only', groups: ['ml'], inputTokens: 200, outputTokens: 20, costUsd: 0.002 }),
  sampleRow({ ts: T0 + 2, requestId: 'g-3', keyId: 'none', groups: [], inputTokens: 400, outputTokens: 40, costUsd: 0.004 }),
  sampleRow({ ts: T0 + 86_400_000, requestId: 'g-4', keyId: 'ml-only', groups: ['ml'], inputTokens: 800, outputTokens: 80, costUsd: 0.008 }),
];
const PERIOD = { sinceMs: T0 - 1000, untilMs: T0 + 2 * 86_400_000, timezone: 'UTC' };
// Until 9e4bbd0 a key could list a group twice (`groups: [ml, ml]`); the ledger keeps such calls' groups as
// recorded (found by the session-27 review: each was counted twice in its group's row).
const LATER = T0 + 10 * 86_400_000;
const LISTED_TWICE = [
  sampleRow({ ts: LATER, requestId: 'twice-1', keyId: 'old-key', groups: ['ml', 'ml'], inputTokens: 100, outputTokens: 10, costUsd: 0.001 }),
  sampleRow({ ts: LATER + 1, requestId: 'twice-2', keyId: 'other', groups: ['ml', 'beta'], inputTokens: 200, outputTokens: 20, costUsd: 0.002 }),
];

describe.each(LEDGER_KINDS)('usage by group: $kind', ({ place: makePlace }) => {
  const { ledger } = useLedger({
    place: makePlace,
    seed: (l) => l.append([...ROWS, ...LISTED_TWICE]),
  });

  it('puts each call in every group of its key, and counts it once in the totals', async () => {
    const report = await usageReport(ledger(), { ...PERIOD, by: ['group'] });
    const byGroup = Object.fromEntries(report.rows.map((r) => [String(r.keys.group), [r.calls, r.totalTokens, r.costUsd]]));
    expect(byGroup).toEqual({ ml: [3, 1210, 0.011], beta: [1, 110, 0.001], null: [1, 440, 0.004] });
    expect(report.totals).toMatchObject({ calls: 4, totalTokens: 1650, costUsd: 0.015 });
  });

  it('with other dimensions and by day', async () => {
    const byKey = await usageReport(ledger(), { ...PERIOD, by: ['group', 'key'] });
    expect(byKey.rows.map((r) => [r.keys.group, r.keys.key, r.calls])).toEqual([
      ['ml', 'ml-only', 2],
      [null, 'none', 1],
      ['beta', 'ml-and-beta', 1],
      ['ml', 'ml-and-beta', 1],
    ]);
    const byDay = await usageReport(ledger(), { ...PERIOD, by: ['day', 'group'] });
    expect(byDay.rows.map((r) => [r.keys.day, r.keys.group, r.calls])).toEqual([
      ['2026-11-20', null, 1],
      ['2026-11-20', 'ml', 2],
      ['2026-11-20', 'beta', 1],
      ['2026-11-21', 'ml', 1],
    ]);
    expect(byDay.totals.calls).toBe(4);
    expect(formatReport(byDay, 'csv').split('\n')[0]).toContain('group');
  });

  it('counts a call once in a group its key listed twice, whatever else it is grouped by', async () => {
    for (const by of [['group'], ['group', 'key'], ['group', 'day'], ['group', 'tag:feature']] as const) {
      const report = await usageReport(ledger(), { sinceMs: LATER - 1000, untilMs: LATER + 86_400_000, timezone: 'UTC', by: [...by] });
      const ml = report.rows.filter((r) => r.keys.group === 'ml');
      expect(ml.reduce((n, r) => n + r.calls, 0), by.join(',')).toBe(2);
      expect(ml.reduce((n, r) => n + r.totalTokens, 0), by.join(',')).toBe(330);
    }
  });
});
