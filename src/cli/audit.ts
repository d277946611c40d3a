// `tollgate audit`: asks a running gateway to compare its counters with the ledger and prints the drift.
import type { Command } from 'commander';
import type { AuditReport } from '../ledger/audit.js';
import { CONFIG_FLAGS, collectConfig, loadPolicyOrReport } from './config-files.js';
import { redactUrl } from '../util/redact-url.js';
import { httpOrigin } from '../util/http-origin.js';

interface AuditOptions {
  config?: string[];
  url?: string;
  adminKey?: string;
  format: string;
}

/** Registers `tollgate audit [--config FILE] [--url URL] [--format table|json]`; exits 2 when any counter drifts. */
export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description("compare a running gateway's counters with the ledger; exit 0 without drift, 2 with drift")
    .option(CONFIG_FLAGS, "the gateway's config, for its address (server.host, server.port: the only fields whose ${VAR}s must be set); repeat to merge several", collectConfig)
    .option('--url <url>', 'gateway address (default: server.host and server.port from the config)')
    .option('--admin-key <key>', 'admin key (default: $TOLLGATE_ADMIN_KEY)')
    .option('--format <format>', 'table or json', 'table')
    .action(async (opts: AuditOptions) => {
      process.exitCode = await runAudit(opts);
    });
}

async function runAudit(opts: AuditOptions): Promise<number> {
  if (!['table', 'json'].includes(opts.format)) return fail(`--format must be table or json, not '${opts.format}'`);
  let url = opts.url;
  if (!url && opts.config !== undefined) {
    // Only the address is read: the admin key comes from --admin-key or the environment.
    const policy = loadPolicyOrReport(opts.config, ['server.host', 'server.port']);
    if (!policy) return 1;
    url = httpOrigin(policy.server.host, policy.server.port);
  }
  if (!url) return fail('give --url URL or --config FILE');
  // fetch refuses credentials in a URL anyway; the message must not repeat them.
  if (redactUrl(url) !== url) return fail(`--url ${redactUrl(url)}: give the gateway's address without credentials (the admin key goes in --admin-key or TOLLGATE_ADMIN_KEY)`);
  const key = opts.adminKey ?? process.env.TOLLGATE_ADMIN_KEY;
  if (!key) return fail('give --admin-key KEY or set TOLLGATE_ADMIN_KEY');
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/$/, '')}/api/audit`, { headers: { authorization: `Bearer ${key}` } });
  } catch (err) {
    return fail(`cannot reach ${url}: ${(err as Error).message}`);
  }
  const body = (await res.json().catch(() => undefined)) as (AuditReport & { error?: { message: string } }) | undefined;
  if (!res.ok || !body) return fail(body?.error?.message ?? `HTTP ${res.status}`);
  console.log(opts.format === 'json' ? JSON.stringify(body, null, 2) : renderAudit(body));
  return body.drifting > 0 ? 2 : 0;
}

/** The audit as the table `tollgate audit` prints. */
export function renderAudit(r: AuditReport): string {
  const lines = [`audit at ${new Date(r.atMs).toISOString()}: ${r.lines.length} limit${r.lines.length === 1 ? '' : 's'}, ${r.drifting} drifting`];
  if (r.openReservations > 0) lines.push(`${r.openReservations} reservations in flight: not drift (what they hold is subtracted from the counters)`);
  if (r.skippedCalls > 0) lines.push(`${r.skippedCalls} calls of keys/routes no longer configured were left out (${r.skippedKeys.join(', ')})`);
  const orgWidth = Math.max(12, ...r.lines.map((l) => l.organization.length));
  const width = Math.max(5, ...r.lines.map((l) => l.limit.length));
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

function fail(message: string): number {
  console.error(`tollgate audit: ${message}`);
  return 1;
}
