// `tollgate audit`: asks a running gateway to compare its counters with the ledger and prints the drift.
import type { Command } from 'commander';
import type { AuditReport } from '../ledger/audit.js';
import { readAuditAnswer, unreachableReason } from './audit-answer.js';
import { CONFIG_FLAGS, collectConfig } from './config-flags.js';
import { adminEndpoint, adminTarget, NOT_HTTP } from './admin-target.js';

interface AuditOptions {
  config?: string[];
  url?: string;
  adminKey?: string;
  format: string;
  timeout: string;
}

/** Registers `tollgate audit [--config FILE] [--url URL] [--format table|json]`; exits 2 when any counter drifts, 1 when it could not audit. */
export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description("compare a running gateway's counters with the ledger; exit 0 without drift, 2 with drift, 1 when it could not audit")
    .option(CONFIG_FLAGS, "the gateway's config, for its address (server.host, server.port; unset ${VAR}s elsewhere matter only in fields that must be a URL or a number); repeat to merge several", collectConfig)
    .option('--url <url>', 'gateway address (default: server.host and server.port from the config)')
    .option('--admin-key <key>', 'admin key (default: $TOLLGATE_ADMIN_KEY)')
    .option('--format <format>', 'table or json', 'table')
    .option('--timeout <seconds>', 'give up when the whole answer has not come within this many seconds', '120')
    .action(async (opts: AuditOptions) => {
      process.exitCode = await runAudit(opts);
    });
}

async function runAudit(opts: AuditOptions): Promise<number> {
  if (!['table', 'json'].includes(opts.format)) return fail(`--format must be table or json, not '${opts.format}'`);
  const timeoutSeconds = Number(opts.timeout);
  if (!(timeoutSeconds > 0 && timeoutSeconds <= 86_400)) return fail(`--timeout must be a number of seconds (at most 86400), not '${opts.timeout}'`);
  const target = await adminTarget(opts);
  if (target === undefined) return 1;
  if ('problem' in target) return fail(target.problem);
  const { url, key } = target;
  const where = auditEndpoint(url);
  if (where === undefined) return fail(`--url ${url}: ${NOT_HTTP}`);
  // Without a bound, a gateway (or anything else) that accepts the connection and never answers hangs the
  // command, and a cron job with it. The signal also covers reading the body.
  const signal = AbortSignal.timeout(timeoutSeconds * 1000);
  let answer: Awaited<ReturnType<typeof readAuditAnswer>>;
  try {
    const res = await fetch(where, { headers: { authorization: `Bearer ${key}` }, signal });
    answer = await readAuditAnswer(res, where);
  } catch (err) {
    return fail(`cannot audit ${where}: ${unreachableReason(err, timeoutSeconds)}`);
  }
  if ('problem' in answer) return fail(answer.problem);
  const body = answer.report;
  console.log(opts.format === 'json' ? JSON.stringify(body, null, 2) : renderAudit(body));
  return body.drifting > 0 ? 2 : 0;
}

/** The audit endpoint under the gateway's address (adminEndpoint). */
export function auditEndpoint(address: string): string | undefined {
  return adminEndpoint(address, '/api/audit');
}

/** The audit as the table `tollgate audit` prints. */
export function renderAudit(r: AuditReport): string {
  const lines = [`audit at ${new Date(r.atMs).toISOString()}: ${r.lines.length} limit${r.lines.length === 1 ? '' : 's'}, ${r.drifting} drifting`];
  if (r.openReservations > 0) lines.push(`${r.openReservations} reservations in flight: not drift (what they hold is subtracted from the counters)`);
  if (r.skippedCalls > 0) lines.push(`${r.skippedCalls} calls whose model a money limit can no longer price were left out (${r.skippedKeys.join(', ')})`);
  // Reduced, not Math.max(12, ...lengths): an organization with 130,000 per-user limits would blow the stack.
  const orgWidth = r.lines.reduce((w, l) => Math.max(w, l.organization.length), 12);
  const width = r.lines.reduce((w, l) => Math.max(w, l.limit.length), 5);
  lines.push(`${'organization'.padEnd(orgWidth)}  ${'limit'.padEnd(width)}  ${'counter'.padStart(14)}  ${'ledger'.padStart(14)}  ${'drift'.padStart(14)}  unit`);
  // Dollars to the nano-dollar, as `tollgate usage` and the dashboard show them: at 6 places a money limit
  // spent on a cheap model read 0.000000 (embeddings cost 20 n$ a token) and no figure matched the others'.
  const num = (v: number, unit: string): string => (unit === 'usd' ? v.toFixed(9) : String(Math.round(v * 1000) / 1000)).padStart(14);
  for (const l of r.lines) {
    const figures = `${num(l.counter, l.unit)}  ${num(l.ledger, l.unit)}  ${num(l.drift, l.unit)}  ${l.unit}${l.drift !== 0 ? '  DRIFT' : ''}`;
    lines.push(`${l.organization.padEnd(orgWidth)}  ${l.limit.padEnd(width)}  ${figures}`);
  }
  return lines.join('\n');
}

// Exit 1: could not audit (bad flags or config, no answer, not an audit report); 2 is kept for drift.
function fail(message: string): number {
  console.error(`tollgate audit: ${message}`);
  return 1;
}
