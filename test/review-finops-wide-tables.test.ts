// The plain-text tables of `tollgate usage` and `tollgate audit` for large organizations. Column widths
// were taken with Math.max(...oneValuePerLine): past ~125,000 lines (`--by user,day` over a month of
// 5,000 users; an audit of an organization whose 130,000 users each have a daily limit) the spread blew
// the call stack and the command died with "RangeError: Maximum call stack size exceeded", while the
// same report as CSV or JSON printed fine.
import { describe, expect, it } from 'vitest';
import { renderAudit } from '../src/cli/audit.js';
import type { AuditLine, AuditReport } from '../src/ledger/audit.js';
import { formatReport } from '../src/ledger/report-format.js';
import type { ReportRow, UsageReport } from '../src/ledger/usage-report.js';

const LINES = 200_000;

function reportRow(user: string, tokens: number): ReportRow {
  return { keys: { user }, calls: 1, requests: 1, blocked: 0, failed: 0, inputTokens: tokens, outputTokens: 0, cachedInputTokens: 0, cacheWriteInputTokens: 0, totalTokens: tokens, estimatedTokens: 0, costUsd: tokens * 1e-6 };
}

describe('wide plain-text tables', () => {
  it('tollgate usage --format table prints every group of a report with 200,000 of them', () => {
    // The longest user name comes last, so its width must come from scanning every line.
    const rows = Array.from({ length: LINES }, (_, i) => reportRow(i === LINES - 1 ? 'the-longest-user-name-of-all' : `u${i}`, 1));
    const totals = { ...reportRow('', LINES), keys: {}, calls: LINES, requests: LINES };
    const report: UsageReport = { sinceMs: 0, untilMs: 1, timezone: 'UTC', by: ['user'], rows, totals };
    const lines = formatReport(report, 'table').trimEnd().split('\n');
    // Header, rule, the rows, rule, TOTAL.
    expect(lines).toHaveLength(LINES + 4);
    // The user column is as wide as its longest value: every figure column starts at the same place.
    const column = 'the-longest-user-name-of-all'.length + 2;
    expect(lines[2].slice(0, column)).toBe('u0'.padEnd(column));
    expect(lines.at(-1)!.startsWith('TOTAL'.padEnd(column))).toBe(true);
  });

  it('tollgate audit prints every limit of an audit with 200,000 of them', () => {
    const lines: AuditLine[] = Array.from({ length: LINES }, (_, i) => ({ organization: 'acme', limit: `user:u${i}:daily`, algorithm: 'fixed_window', unit: 'tokens', counter: i, ledger: i, drift: 0 }));
    const report: AuditReport = { atMs: Date.UTC(2026, 11, 6), lines, drifting: 0, openReservations: 0, skippedCalls: 0, skippedKeys: [] };
    const text = renderAudit(report).split('\n');
    // Summary, header, one line per limit.
    expect(text).toHaveLength(LINES + 2);
    expect(text[0]).toBe(`audit at 2026-12-06T00:00:00.000Z: ${LINES} limits, 0 drifting`);
    // The limit column is as wide as the longest id, user:u199999:daily.
    expect(text.at(-1)).toMatch(/^acme {10}user:u199999:daily {2}/);
  });
});
