// Renders a usage report as an aligned table, CSV (RFC 4180, formulas neutralised) or JSON.
import type { ReportRow, UsageReport } from './usage-report.js';
import { escapeInvisibleInJson, showInvisible } from './visible-text.js';

export type ReportFormat = 'table' | 'csv' | 'json';

const FIGURES: Array<[string, (r: ReportRow) => number]> = [
  ['calls', (r) => r.calls],
  ['requests', (r) => r.requests],
  ['blocked', (r) => r.blocked],
  ['failed', (r) => r.failed],
  ['input_tokens', (r) => r.inputTokens],
  ['output_tokens', (r) => r.outputTokens],
  ['cached_input_tokens', (r) => r.cachedInputTokens],
  ['cache_write_input_tokens', (r) => r.cacheWriteInputTokens],
  ['total_tokens', (r) => r.totalTokens],
  // The part of total_tokens the gateway counted (usage_source estimated): its share without regrouping.
  ['estimated_tokens', (r) => r.estimatedTokens],
  ['cost_usd', (r) => r.costUsd],
];

/** The report in the requested format, ending with a newline. */
export function formatReport(report: UsageReport, format: ReportFormat): string {
  if (format === 'json') return `${escapeInvisibleInJson(JSON.stringify(toJson(report), null, 2))}\n`;
  // Without dimensions the report is its totals alone, under a blank first column.
  const labels = report.by.length > 0 ? report.by : [''];
  // Dimension values (free tags above all) are shown with invisible and reordering characters spelt out.
  const header = [...labels.map(showInvisible), ...FIGURES.map(([name]) => name)];
  const line = (keys: Array<string | null>, r: ReportRow): string[] => [
    ...keys.map((k) => showInvisible(k ?? '')),
    // To the nano-dollar, as the JSON: a cheap model's calls cost fractions of a micro-dollar each.
    ...FIGURES.map(([name, get]) => (name === 'cost_usd' ? get(r).toFixed(9) : String(get(r)))),
  ];
  const body = report.by.length > 0 ? report.rows.map((r) => line(report.by.map((d) => r.keys[d]), r)) : [];
  const total = line(labels.map((_, i) => (i === 0 ? 'TOTAL' : '')), report.totals);
  if (format === 'csv') {
    // The first columns hold text (dimension values such as free tags); the rest are the figures.
    const csvLine = (cells: string[]): string => cells.map((c, i) => csvCell(i < labels.length ? neutraliseFormula(c) : c)).join(',');
    return [header.map(neutraliseFormula).map(csvCell).join(','), ...body.map(csvLine), csvLine(total)].join('\n') + '\n';
  }
  return table(header, body, total);
}

function toJson(report: UsageReport): unknown {
  const figures = (r: ReportRow): Record<string, number> => Object.fromEntries(FIGURES.map(([name, get]) => [name, name === 'cost_usd' ? Math.round(get(r) * 1e9) / 1e9 : get(r)]));
  return {
    timezone: report.timezone,
    since: new Date(report.sinceMs).toISOString(),
    until: new Date(report.untilMs).toISOString(),
    by: report.by,
    rows: report.rows.map((r) => ({ ...r.keys, ...figures(r) })),
    totals: figures(report.totals),
  };
}

// Spreadsheets run a cell starting with one of these as a formula (OWASP, "CSV Injection").
const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A text cell that a spreadsheet would read as a formula, prefixed with `'` so it is shown as text:
 * a tag value is whatever the caller sent, e.g. `=HYPERLINK(...)`. A plain number (`-1.5`) is left
 * as it is: it is no formula, and stays a number.
 */
export function neutraliseFormula(v: string): string {
  return FORMULA_START.test(v) && !PLAIN_NUMBER.test(v) ? `'${v}` : v;
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function table(header: string[], body: string[][], total: string[]): string {
  const rows = [header, ...body, total];
  // A loop, not Math.max(...lengths): spread as arguments, ~125,000 lines (a month of 5,000 users by day) blow the stack.
  const widths = header.map((_, i) => rows.reduce((w, r) => Math.max(w, r[i].length), 0));
  const numeric = header.map((_, i) => body.every((r) => r[i] === '' || /^-?[\d.]+$/.test(r[i])) && body.length > 0);
  const render = (r: string[]): string => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [render(header), rule, ...body.map(render), rule, render(total)].join('\n') + '\n';
}
