// `tollgate usage` totals against the rows it prints: costs are shown to the nano-dollar, and a FinOps
// lead adds the rows of the CSV up and expects the TOTAL line.
import { describe, expect, it } from 'vitest';
import { formatReport } from '../src/ledger/report-format.js';
import { usageReport, type ReportDimension } from '../src/ledger/usage-report.js';
import { sampleRow, T0 } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

// Five cached input tokens of gpt-4o-mini served at flex: 5 x 0.0375 $/M = 187.5 nano-dollars.
const CALL_USD = 0.1875e-6;

const { ledger } = useLedger({
  seed: (l) =>
    l.append(
      ['a', 'b', 'c', 'd'].map((project, i) =>
        sampleRow({ ts: T0 + i, project, model: 'gpt-4o-mini', inputTokens: 5, outputTokens: 0, cachedInputTokens: 5, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: 'flex', costUsd: CALL_USD, inputCostUsd: CALL_USD }),
      ),
    ),
});

const csv = async (by: ReportDimension[]): Promise<{ rows: number[]; total: number }> => {
  const report = await usageReport(ledger(), { sinceMs: T0 - 1000, untilMs: T0 + 1000, by, timezone: 'UTC' });
  const nanos = (line: string): number => Math.round(Number(line.split(',').at(-1)) * 1e9);
  const lines = formatReport(report, 'csv').trim().split('\n').slice(1);
  return { rows: lines.slice(0, -1).map(nanos), total: nanos(lines.at(-1)!) };
};

describe('tollgate usage: costs to the nano-dollar', () => {
  // Regression: each row was rounded on its own (188 n$) and the total from the exact sum (750 n$),
  // so the four rows printed added up to 752 n$ under a TOTAL of 750.
  it('prints rows that add up to the TOTAL line', async () => {
    const byProject = await csv(['project']);
    expect(byProject.rows).toHaveLength(4);
    expect(byProject.rows.reduce((s, n) => s + n, 0)).toBe(byProject.total);
    expect(byProject.total).toBe(750);
    // Each row stays within one nano-dollar of its exact 187.5.
    for (const n of byProject.rows) expect([187, 188]).toContain(n);
  });

  it('prints the same total whatever the grouping, in CSV and JSON alike', async () => {
    expect((await csv(['organization'])).total).toBe(750);
    expect((await csv(['project', 'model'])).total).toBe(750);
    const report = await usageReport(ledger(), { sinceMs: T0 - 1000, untilMs: T0 + 1000, by: ['project'], timezone: 'UTC' });
    const json = JSON.parse(formatReport(report, 'json')) as { rows: Array<{ cost_usd: number }>; totals: { cost_usd: number } };
    expect(Math.round(json.rows.reduce((s, r) => s + r.cost_usd, 0) * 1e9)).toBe(750);
    expect(json.totals.cost_usd).toBe(0.00000075);
  });
});
