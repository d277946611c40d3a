// `tollgate simulate --config PROPOSED`: replays the ledger against a proposed configuration and says what
// it would have refused (analytics/simulate.ts). Exit 0 when it would have refused nothing, 2 when it would
// have refused calls (a deploy check), 1 when it could not simulate.
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { SimulationReport } from '../analytics/simulate.js';
import { CONFIG_FLAGS, collectConfig } from './config-flags.js';
import { impossibleDate } from './calendar-date.js';
import { unitlessNumber } from './unitless-number.js';

interface SimulateOptions {
  config?: string[];
  ledger?: string;
  since: string;
  until?: string;
  format: string;
}

/** Registers `tollgate simulate`. */
export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('replay the ledger against a proposed config: what would it have refused? exit 0: nothing, 2: some calls, 1: could not simulate')
    .option(CONFIG_FLAGS, 'the proposed config (its limits, keys, routes, pricing, server.timezone; storage.ledger unless --ledger); repeat to merge several', collectConfig)
    .option('--ledger <url>', "ledger to replay instead of the config's (sqlite:PATH or postgres://...)")
    .option('--since <time>', 'start: month (this calendar month, so monthly limits see all of it), 7d, 24h, today, YYYY-MM-DD or ISO date-time', 'month')
    .option('--until <time>', 'end (exclusive), same forms; default now')
    .option('--format <format>', 'table or json', 'table')
    .action(async (opts: SimulateOptions) => {
      process.exitCode = await runSimulate(opts);
    });
}

async function runSimulate(opts: SimulateOptions): Promise<number> {
  if (!['table', 'json'].includes(opts.format)) return fail(`--format must be table or json, not '${opts.format}'`);
  if (!opts.config) return fail('give the proposed configuration with --config FILE');
  for (const [flag, text] of [['--since', opts.since], ['--until', opts.until]] as const) {
    if (text === undefined) continue;
    const problem = unitlessNumber(text) ?? impossibleDate(text);
    if (problem) return fail(`${flag} ${text}: ${problem}`);
  }
  const { loadPolicyOrReport } = await import('./config-files.js');
  // Every limit matters; unset variables in secrets (provider keys, client keys) do not.
  const policy = loadPolicyOrReport(opts.config, opts.ledger ? [] : ['storage.ledger']);
  if (!policy) return 1;
  const { parseTime } = await import('../ledger/usage-report.js');
  const now = Date.now();
  let sinceMs: number;
  let untilMs: number;
  try {
    sinceMs = parseTime(opts.since, now, policy.server.timezone);
    untilMs = opts.until ? parseTime(opts.until, now, policy.server.timezone) : now + 1;
  } catch (err) {
    return fail((err as Error).message);
  }
  if (!(sinceMs < untilMs)) return fail(`--since ${opts.since} is not before ${opts.until ? `--until ${opts.until}` : 'now'}: the period is empty`);
  const { openLedger, LedgerNotFoundError } = await import('../ledger/open-ledger.js');
  const { redactUrl } = await import('../util/redact-url.js');
  const url = opts.ledger ?? policy.storage.ledger;
  // Relative SQLite paths mean what they mean to `tollgate serve` with the same config.
  const baseDir = opts.ledger || !policy.sources[0] ? process.cwd() : dirname(resolve(policy.sources[0]));
  let ledger;
  try {
    ledger = await openLedger(url, { baseDir, readonly: true });
  } catch (err) {
    return fail(err instanceof LedgerNotFoundError ? err.message : `cannot read the ledger ${redactUrl(url)}: ${(err as Error).message}`);
  }
  try {
    const { simulate } = await import('../analytics/simulate.js');
    const { withManagedKeys } = await import('../auth/managed-key.js');
    // Keys made through the admin API are in the ledger's database: their users' tiers count too.
    const managed = (await ledger.keys?.listKeys().catch(() => [])) ?? [];
    const report = await simulate(ledger, withManagedKeys(policy, managed).policy, sinceMs, untilMs);
    console.log(opts.format === 'json' ? JSON.stringify(report, null, 2) : renderSimulation(report));
    return report.refused > 0 ? 2 : 0;
  } catch (err) {
    return fail(`cannot replay the ledger ${redactUrl(url)}: ${(err as Error).message}`);
  } finally {
    await ledger.close();
  }
}

/** The report as the table `tollgate simulate` prints. */
export function renderSimulation(r: SimulationReport): string {
  const n = (v: number): string => v.toLocaleString('en-US');
  const calls = (v: number): string => `${n(v)} call${v === 1 ? '' : 's'}`;
  const lines = [
    `replayed ${calls(r.replayed)} from ${new Date(r.sinceMs).toISOString()} to ${new Date(r.untilMs).toISOString()} against the proposed configuration`,
    `it would admit ${n(r.admitted)}, clamp ${n(r.clamped)} (a lower max_tokens) and refuse ${n(r.refused)} (${n(r.refusedTokens)} tokens, $${r.refusedCostUsd.toFixed(6)} as recorded)`,
  ];
  const apart: string[] = [];
  if (r.refusedAtTheTime > 0) apart.push(`${calls(r.refusedAtTheTime)} refused at the time (what they asked for is not recorded)`);
  if (r.notReplayed > 0) apart.push(`${n(r.notReplayed)} that never reached the limits`);
  for (const [code, count] of Object.entries(r.unjudged)) apart.push(`${n(count)} it cannot judge (${code})`);
  if (apart.length > 0) lines.push(`not replayed: ${apart.join(', ')}`);
  if (r.byLimit.length === 0) return lines.join('\n');
  const width = r.byLimit.reduce((w, l) => Math.max(w, l.limit.length), 5);
  lines.push('', `${'limit'.padEnd(width)}  ${'calls'.padStart(9)}  ${'tokens'.padStart(12)}  ${'cost (USD)'.padStart(14)}  ${'users'.padStart(6)}  ${'first refused at'.padEnd(24)}  most refused`);
  for (const l of r.byLimit) {
    const most = l.topUsers.map((u) => `${u.user} (${n(u.calls)})`).join(', ');
    lines.push(`${l.limit.padEnd(width)}  ${n(l.calls).padStart(9)}  ${n(l.tokens).padStart(12)}  ${l.costUsd.toFixed(6).padStart(14)}  ${n(l.users).padStart(6)}  ${new Date(l.firstAtMs).toISOString()}  ${most}`);
  }
  return lines.join('\n');
}

function fail(message: string): number {
  console.error(`tollgate simulate: ${message}`);
  return 1;
}
