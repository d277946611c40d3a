// `tollgate usage`: usage reports straight from the ledger the config names (the report itself: usage-run.ts).
import type { Command } from 'commander';
import { REPORT_DIMENSIONS_TEXT } from '../ledger/usage-report.js';
import { CONFIG_FLAGS, collectConfig } from './config-flags.js';
import type { UsageOptions } from './usage-run.js';

/** Registers `tollgate usage --by project,model [--since 7d] [--until ...] [--format table|csv|json]`. */
export function registerUsage(program: Command): void {
  program
    .command('usage')
    .description('usage and cost from the ledger, grouped by any dimension or tag, with totals')
    .option(CONFIG_FLAGS, 'config file naming the ledger (storage.ledger) and server.timezone (unset ${VAR}s elsewhere matter only in fields that must be a URL or a number); repeat to merge several', collectConfig)
    .option('--ledger <url>', 'ledger to read instead of the config\'s (sqlite:PATH or postgres://...)')
    .option('--by <dimensions>', `comma-separated: ${REPORT_DIMENSIONS_TEXT}`, 'project,model')
    .option('--since <time>', 'start: 7d, 24h, 30m, 2w, today, yesterday, month, YYYY-MM-DD or ISO date-time (without Z or an offset: a local time, see --timezone)', '7d')
    .option('--until <time>', 'end (exclusive), same forms; default now')
    .option('--format <format>', 'table, csv or json', 'table')
    .option('--timezone <zone>', "IANA zone of local times: the calendar days of day, today, yesterday, month and dates, and date-times without a zone (default: the config's server.timezone; with --ledger alone, UTC)")
    .option('--org <id>', 'only this organization')
    .option('--project <name>', 'only this project')
    .option('--user <name>', 'only this user')
    .option('--key <id>', 'only this key id')
    .option('--model <provider/model>', 'only this model')
    .action(async (opts: UsageOptions) => {
      // Loaded when the command runs, so that the other commands do not wait for the ledger's modules.
      const { runUsage } = await import('./usage-run.js');
      process.exitCode = await runUsage(opts);
    });
}

