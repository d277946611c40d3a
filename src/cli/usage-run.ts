// `tollgate usage` run: checks its flags, reads the config's ledger and prints the report.
import { dirname, resolve } from 'node:path';
import type { Policy } from '../config/policy.js';
import type { FilterField } from '../ledger/ledger.js';
import { LedgerNotFoundError, openLedger } from '../ledger/open-ledger.js';
import { redactUrl } from '../util/redact-url.js';
import { formatReport, type ReportFormat } from '../ledger/report-format.js';
import { parseDimensions, parseTime, usageReport } from '../ledger/usage-report.js';
import { impossibleDate } from './calendar-date.js';
import { unitlessNumber } from './unitless-number.js';
import { isTimeZone } from '../util/time-zone.js';
import { loadPolicyOrReport } from './config-files.js';

export interface UsageOptions {
  config?: string[];
  ledger?: string;
  by: string;
  since: string;
  until?: string;
  format: string;
  org?: string;
  project?: string;
  user?: string;
  key?: string;
  model?: string;
  timezone?: string;
}

/** Runs `tollgate usage`: the exit code (1 for any error, printed on stderr). */
export async function runUsage(opts: UsageOptions): Promise<number> {
  if (!['table', 'csv', 'json'].includes(opts.format)) return fail(`--format must be table, csv or json, not '${opts.format}'`);
  for (const [flag, text] of [['--since', opts.since], ['--until', opts.until]] as const) {
    if (text === undefined) continue;
    const unreadable = unitlessNumber(text);
    if (unreadable) return fail(unreadable);
    const problem = impossibleDate(text);
    if (problem) return fail(`${flag} ${text}: ${problem}`);
  }
  let policy: Policy | undefined;
  if (opts.config !== undefined) {
    // The fields read from the config; unset variables elsewhere (provider and client secrets) do not matter.
    const needs = [...(opts.ledger ? [] : ['storage.ledger']), ...(opts.timezone ? [] : ['server.timezone'])];
    policy = loadPolicyOrReport(opts.config, needs);
    if (!policy) return 1;
  }
  const url = opts.ledger ?? policy?.storage.ledger;
  if (!url) return fail('give --config FILE (its storage.ledger is read) or --ledger URL');
  const timezone = opts.timezone ?? policy?.server.timezone ?? 'UTC';
  if (!isTimeZone(timezone)) return fail(`--timezone ${timezone}: not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)`);
  // A shared ledger read with --ledger alone has no server.timezone to go by: say whose days these are.
  if (!opts.timezone && !policy && usesCalendarDays(opts)) console.error('tollgate usage: days are UTC days (give --timezone ZONE, or --config, for the gateway\'s own)');
  const now = Date.now();
  let by, sinceMs, untilMs;
  try {
    by = parseDimensions(opts.by);
    sinceMs = parseTime(opts.since, now, timezone);
    untilMs = opts.until ? parseTime(opts.until, now, timezone) : now + 1;
  } catch (err) {
    return fail((err as Error).message);
  }
  // `99999999999d` reads as a number of ms beyond the dates JavaScript can print (±273,790 years): the
  // period's own messages and the JSON's since/until would throw on it.
  for (const [flag, text, ms] of [['--since', opts.since, sinceMs], ['--until', opts.until, opts.until ? untilMs : now]] as const) {
    if (Number.isNaN(new Date(ms).getTime())) return fail(`${flag} ${text}: too far from today to be a date`);
  }
  // Without --until the query runs to now inclusive (untilMs is exclusive), but the period still ends now:
  // `--since 0d` is as empty as `--since 1d --until 1d`.
  const end = opts.until ? untilMs : now;
  if (sinceMs >= end) {
    const span = `--since ${opts.since} (${new Date(sinceMs).toISOString()}) is not before ${opts.until ? `--until ${opts.until}` : 'now'} (${new Date(end).toISOString()})`;
    return fail(`${span}: the period is empty`);
  }
  const where: Partial<Record<FilterField, string>> = {};
  if (opts.org) where.organization = opts.org;
  if (opts.project) where.project = opts.project;
  if (opts.user) where.user = opts.user;
  if (opts.key) where.key = opts.key;
  if (opts.model) where.model = opts.model;
  // Relative SQLite paths mean what they mean to `tollgate serve` with the same config.
  const baseDir = opts.ledger || !policy?.sources[0] ? process.cwd() : dirname(resolve(policy.sources[0]));
  // Read-only: a report never creates, migrates or writes the ledger (a mistyped path stays a mistake).
  const ledger = await openLedger(url, { baseDir, readonly: true }).catch((err: Error) => err);
  const from = opts.ledger ? '--ledger' : `storage.ledger in ${policy!.sources.join(', ')}`;
  if (ledger instanceof LedgerNotFoundError) return fail(`${ledger.message} (from ${from})`);
  if (ledger instanceof Error) return fail(`cannot open the ledger ${redactUrl(url)}: ${ledger.message}`);
  try {
    const report = await usageReport(ledger, { sinceMs, untilMs, by, where, timezone });
    process.stdout.write(formatReport(report, opts.format as ReportFormat));
    return 0;
  } catch (err) {
    // The database refused or lost the read (a statement or lock timeout, a cut connection): its reason,
    // not a stack trace.
    return fail(`reading the ledger ${redactUrl(url)} failed: ${(err as Error).message}`);
  } finally {
    await ledger.close();
  }
}

/** Whether the report's period or grouping depends on where calendar days start. */
function usesCalendarDays(opts: UsageOptions): boolean {
  // Dates, and date-times without Z or an offset (`2026-12-01T08:00`).
  const calendar = (t: string | undefined): boolean => t !== undefined && /^(today|yesterday|month|\d{4}-\d{2}-\d{2}([T ][\d:.]+)?)$/i.test(t.trim());
  return calendar(opts.since) || calendar(opts.until) || opts.by.split(',').some((d) => d.trim() === 'day');
}

// Exit code 1, like every other error of the CLI (2 is `tollgate audit`'s "drift found").
function fail(message: string): number {
  console.error(`tollgate usage: ${message}`);
  return 1;
}
