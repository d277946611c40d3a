// Usage reports straight from the ledger (`tollgate usage`): sums grouped by any dimension or tag,
// and by local calendar day, over any period, with totals.
import { DIMENSIONS, isDimension, type Dimension, type FilterField, type Ledger, type UsageGroup } from './ledger.js';
import { roundUsd, roundUsdToTotal } from './nano-usd.js';
import { localMidnight, localWallTime } from '../limits/windows.js';

/** A report dimension: a ledger dimension, or `day` (the local calendar day in `timezone`). */
export type ReportDimension = Dimension | 'day';

export interface UsageReportQuery {
  sinceMs: number;
  untilMs: number;
  by: ReportDimension[];
  where?: Partial<Record<FilterField, string>>;
  timezone: string;
}

export interface ReportRow {
  keys: Record<string, string | null>;
  calls: number;
  requests: number;
  blocked: number;
  failed: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  /** Input tokens written to the prompt cache (every TTL; part of inputTokens). */
  cacheWriteInputTokens: number;
  totalTokens: number;
  /** The part of totalTokens on calls whose usage Tollgate counted itself (usage_source `estimated`), not the provider. */
  estimatedTokens: number;
  costUsd: number;
}

export interface UsageReport {
  sinceMs: number;
  untilMs: number;
  /** The zone whose calendar days `day`, `today` and dates mean. */
  timezone: string;
  by: ReportDimension[];
  rows: ReportRow[];
  totals: ReportRow;
}

// Slices every real time zone's midnight falls on (offsets are multiples of 15 minutes).
const SLICE_MS = 15 * 60_000;

/** What `--by` takes, as help text and errors name it. */
export const REPORT_DIMENSIONS_TEXT = `${[...DIMENSIONS, 'day'].join(', ')} or tag:<name>`;

/** Parses `--by project,model,tag:feature,day`; throws with the valid names on a bad one. */
export function parseDimensions(text: string): ReportDimension[] {
  const dims = text.split(',').map((d) => d.trim()).filter(Boolean);
  for (const d of dims) {
    if (d !== 'day' && (d === 'bucket' || !isDimension(d))) {
      throw new Error(`unknown dimension '${d}': use ${REPORT_DIMENSIONS_TEXT}`);
    }
  }
  return dims as ReportDimension[];
}

/** Runs the report: one row per group (largest cost first), plus totals. */
export async function usageReport(ledger: Ledger, q: UsageReportQuery): Promise<UsageReport> {
  const byDay = q.by.includes('day');
  const groups = byDay && q.by.length > 1 ? await groupsByDay(ledger, q) : await groupsBySlice(ledger, q);
  const merged = new Map<string, ReportRow>();
  for (const g of groups) {
    const keys: Record<string, string | null> = {};
    for (const d of q.by) keys[d] = g.keys[d];
    const id = JSON.stringify(q.by.map((d) => keys[d]));
    const row = merged.get(id) ?? emptyRow(keys);
    add(row, g);
    merged.set(id, row);
  }
  const rows = [...merged.values()];
  // Ties are ordered by their keys, not left in the database's order: SQLite sorts NULL first and
  // PostgreSQL last, and a report must read the same from either ledger.
  rows.sort((a, b) => (byDay ? String(a.keys.day).localeCompare(String(b.keys.day)) : 0) || b.costUsd - a.costUsd || b.totalTokens - a.totalTokens || compareKeys(a, b, q.by));
  const totals = emptyRow({});
  if (q.by.includes('group')) {
    // A call of a key in two groups is in two rows: the totals count each call once, as the rows cannot.
    for (const g of await ledger.summarize({ sinceMs: q.sinceMs, untilMs: q.untilMs, where: q.where, groupBy: [] })) add(totals, g);
    for (const r of rows) r.costUsd = roundUsd(r.costUsd);
  } else {
    for (const r of rows) addRow(totals, r);
    // Costs are shown to the nano-dollar: rounded so that the rows add up to the total, and the total is the
    // same whatever the grouping (rounded one by one, four rows of 187.5 n$ printed 188 each under a total of 750).
    roundUsdToTotal(rows.map((r) => r.costUsd), totals.costUsd).forEach((usd, i) => (rows[i].costUsd = usd));
  }
  totals.costUsd = roundUsd(totals.costUsd);
  return { sinceMs: q.sinceMs, untilMs: q.untilMs, timezone: q.timezone, by: q.by, rows, totals };
}

/**
 * The ledger's groups for `q` with `day` (when asked for) among their keys. Local days are made of 15-minute
 * slices (every real time zone's midnight falls on one), summed by the ledger without time-zone support.
 */
async function groupsBySlice(ledger: Ledger, q: UsageReportQuery): Promise<UsageGroup[]> {
  const groupBy = q.by.map((d) => (d === 'day' ? 'bucket' : d)) as Dimension[];
  const groups = await ledger.summarize({ sinceMs: q.sinceMs, untilMs: q.untilMs, where: q.where, groupBy, bucketMs: SLICE_MS });
  if (!q.by.includes('day')) return groups;
  const day = dayFormatter(q.timezone);
  return groups.map((g) => ({ ...g, keys: { ...g.keys, day: day(Number(g.keys.bucket)) } }));
}

/**
 * `day` with other dimensions: one query per local day that has calls, grouped by the others. Slices
 * grouped by the other dimensions too would return one group per user (say) and 15-minute slice, to be
 * merged here: memory for users x slices, not for the rows printed (511 MB for `--by user,day` over 28
 * days of 500,000 calls by 3,000 users). The days with calls come from the slices alone (at most 96 a day).
 */
async function groupsByDay(ledger: Ledger, q: UsageReportQuery): Promise<UsageGroup[]> {
  const day = dayFormatter(q.timezone);
  const slices = await ledger.summarize({ sinceMs: q.sinceMs, untilMs: q.untilMs, where: q.where, groupBy: ['bucket'], bucketMs: SLICE_MS });
  const active = [...new Set(slices.map((s) => day(Number(s.keys.bucket))))].sort();
  const others = q.by.filter((d) => d !== 'day') as Dimension[];
  const out: UsageGroup[] = [];
  for (const date of active) {
    const sinceMs = Math.max(q.sinceMs, localMidnightOf(date, q.timezone));
    const untilMs = Math.min(q.untilMs, localMidnightOf(nextDate(date), q.timezone));
    for (const g of await ledger.summarize({ sinceMs, untilMs, where: q.where, groupBy: others })) out.push({ ...g, keys: { ...g.keys, day: date } });
  }
  return out;
}

/** The calendar date after `date` (YYYY-MM-DD). */
function nextDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** Orders two rows by their dimension values, in `by` order, a missing value (null) after any other. */
function compareKeys(a: ReportRow, b: ReportRow, by: ReportDimension[]): number {
  for (const d of by) {
    const [x, y] = [a.keys[d], b.keys[d]];
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

function emptyRow(keys: Record<string, string | null>): ReportRow {
  return { keys, calls: 0, requests: 0, blocked: 0, failed: 0, inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteInputTokens: 0, totalTokens: 0, estimatedTokens: 0, costUsd: 0 };
}

function add(row: ReportRow, g: UsageGroup): void {
  addRow(row, {
    keys: {},
    calls: g.calls,
    requests: g.served,
    blocked: g.blocked,
    failed: g.failed,
    inputTokens: g.inputTokens,
    outputTokens: g.outputTokens,
    cachedInputTokens: g.cachedInputTokens,
    cacheWriteInputTokens: g.cacheWriteInputTokens,
    totalTokens: g.inputTokens + g.outputTokens,
    estimatedTokens: g.estimatedTokens,
    costUsd: g.costUsd,
  });
}

function addRow(into: ReportRow, r: ReportRow): void {
  into.calls += r.calls;
  into.requests += r.requests;
  into.blocked += r.blocked;
  into.failed += r.failed;
  into.inputTokens += r.inputTokens;
  into.outputTokens += r.outputTokens;
  into.cachedInputTokens += r.cachedInputTokens;
  into.cacheWriteInputTokens += r.cacheWriteInputTokens;
  into.totalTokens += r.totalTokens;
  into.estimatedTokens += r.estimatedTokens;
  into.costUsd += r.costUsd;
}

/** YYYY-MM-DD of an instant in a time zone. */
function dayFormatter(timezone: string): (ms: number) => string {
  const f = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' });
  return (ms) => f.format(ms);
}

/** `2026-12-05T10:00`, with seconds, fractions and a zone (`Z`, `+01:00`) or not; `T` or a space. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Reads a time argument: `7d`, `24h`, `30m`, `2w` ago; `today`, `yesterday`, `month` (local starts);
 * `YYYY-MM-DD` (local midnight); or an ISO date-time (without a zone, a wall-clock time in `timezone`).
 */
export function parseTime(text: string, now: number, timezone: string): number {
  const t = text.trim();
  const rel = /^(\d+)\s*(m|h|d|w)$/.exec(t);
  if (rel) return now - Number(rel[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[rel[2] as 'm' | 'h' | 'd' | 'w'];
  const day = dayFormatter(timezone);
  if (t === 'today' || t === 'yesterday' || t === 'month') {
    const today = day(now);
    if (t === 'today') return localMidnightOf(today, timezone);
    if (t === 'yesterday') return localMidnightOf(day(localMidnightOf(today, timezone) - 1), timezone);
    return localMidnightOf(`${today.slice(0, 8)}01`, timezone);
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) return localMidnightOf(t, timezone);
  // Only ISO 8601 date-times go to Date.parse: it reads almost anything else as some date ('Jul 7' in
  // 2001, '1 2' as 2001-01-02), and a report of the wrong period with exit 0 is worse than an error.
  const iso = ISO_DATE_TIME.exec(t);
  const zoned = iso?.[1] !== undefined;
  // Zoneless, Date.parse would read the process's zone; read as UTC it gives the wall-clock time, placed
  // then in `timezone`, so that it means what dates (and the limits' calendar days) mean.
  const ms = iso ? Date.parse(zoned ? t : `${t}Z`) : NaN;
  if (Number.isNaN(ms)) throw new Error(`cannot read time '${text}': use 7d, 24h, 30m, 2w, today, yesterday, month, YYYY-MM-DD or an ISO date-time`);
  return zoned ? ms : localWallTime(ms, timezone);
}

/** The instant local midnight starts `date` (YYYY-MM-DD) in `timezone`. */
function localMidnightOf(date: string, timezone: string): number {
  const [y, m, d] = date.split('-').map(Number);
  return localMidnight(y, m, d, timezone);
}
