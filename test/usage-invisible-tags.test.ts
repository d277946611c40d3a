// Regression (QA): a tag value holding a bidi override or a zero-width character (Trojan Source) was
// printed as is by `tollgate usage`: in the terminal table an RLO reordered the rest of the line, cost
// columns included, and `search` and `sea<ZWSP>rch` showed as two identical rows. Tags are still recorded
// as the client sent them; reports spell those characters out (table, CSV) or escape them (JSON).
import { describe, expect, it } from 'vitest';
import { readTags } from '../src/proxy/tags.js';
import { formatReport } from '../src/ledger/report-format.js';
import type { ReportRow, UsageReport } from '../src/ledger/usage-report.js';

const RLO = '\u202e';
const PDF = '\u202c';
const ZWSP = '\u200b';

function row(feature: string, costUsd: number): ReportRow {
  return { keys: { 'tag:feature': feature }, calls: 1, requests: 1, blocked: 0, failed: 0, inputTokens: 10, outputTokens: 2, cachedInputTokens: 0, cacheWriteInputTokens: 0, totalTokens: 12, estimatedTokens: 0, costUsd };
}

const report: UsageReport = {
  sinceMs: 0,
  untilMs: 1,
  timezone: 'UTC',
  by: ['tag:feature'],
  rows: [row('search', 1), row(`sea${ZWSP}rch`, 2), row(`x${RLO}9.999${PDF}`, 3)],
  totals: { ...row('', 6), calls: 3 },
};

describe('tags with invisible or reordering characters', () => {
  it('are recorded as sent, from the header (UTF-8) and from metadata', () => {
    const header = Buffer.from(`feature=x${RLO}9.999${PDF}`, 'utf8').toString('latin1'); // as Node hands it over
    expect(readTags(header, { team: `sea${ZWSP}rch` })).toEqual({ feature: `x${RLO}9.999${PDF}`, team: `sea${ZWSP}rch` });
  });

  it('are spelt out in the table, so no line is reordered and look-alikes differ', () => {
    const table = formatReport(report, 'table');
    expect(table).not.toMatch(/[\u200b\u202c\u202e]/);
    expect(table).toMatch(/^search\s+1\s/m);
    expect(table).toMatch(/^sea<U\+200B>rch\s+1\s/m);
    expect(table).toMatch(/^x<U\+202E>9\.999<U\+202C>\s+1\s.*3\.000000000$/m);
  });

  it('are spelt out in CSV, and escaped in JSON (the same strings to a parser)', () => {
    const csv = formatReport(report, 'csv');
    expect(csv).not.toMatch(/[\u200b\u202c\u202e]/);
    expect(csv).toContain('\nsea<U+200B>rch,1,');
    const json = formatReport(report, 'json');
    expect(json).not.toMatch(/[\u200b\u202c\u202e]/);
    expect(json).toContain('"tag:feature": "x\\u202e9.999\\u202c"');
    expect((JSON.parse(json) as { rows: Array<Record<string, unknown>> }).rows.map((r) => r['tag:feature'])).toEqual(['search', `sea${ZWSP}rch`, `x${RLO}9.999${PDF}`]);
  });
});
