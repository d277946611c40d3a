import type { Command } from 'commander';
import { ConfigError, formatIssue, loadPolicy } from '../config/index.js';
import type { Policy } from '../config/index.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** One line describing what a valid policy contains, e.g. `ok: 2 files, 1 organization, ...`. */
export function summarizePolicy(policy: Policy): string {
  return `ok: ${[
    count(policy.sources.length, 'file'),
    count(policy.organizations.size, 'organization'),
    count(policy.projects.size, 'project'),
    count(policy.tiers.size, 'tier'),
    count(policy.groups.size, 'group'),
    count(policy.routes.size, 'route'),
    count(policy.providers.size, 'provider'),
    count(policy.keys.length, 'key'),
  ].join(', ')}`;
}

/** Registers `tollgate check --config FILE [--config FILE2 ...]`: validates config without starting anything. */
export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate config files (merged in order) and report every problem as file:line: path: message')
    .option('-c, --config <file>', 'config file; repeat to merge several, later files win', collect, [] as string[])
    .action((options: { config: string[] }) => {
      if (options.config.length === 0) {
        console.error('tollgate check: give at least one --config FILE');
        process.exitCode = 1;
        return;
      }
      try {
        console.log(summarizePolicy(loadPolicy(options.config, process.env)));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const issue of err.issues) console.error(formatIssue(issue));
        process.exitCode = 1;
      }
    });
}
