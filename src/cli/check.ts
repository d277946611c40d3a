import type { Command } from 'commander';
import type { Policy } from '../config/index.js';
import { CONFIG_FLAGS, collectConfig, strayFilesMessage } from './config-flags.js';

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
    .allowExcessArguments(true) // answered with strayFilesMessage
    .description('validate config files (merged in order) and report every problem as file:line: path: message')
    .option(CONFIG_FLAGS, 'config file; repeat to merge several, later files win', collectConfig)
    .action(async (options: { config?: string[] }, command: Command) => {
      const stray = strayFilesMessage('check', command.args);
      if (stray) {
        console.error(stray);
        process.exitCode = 1;
        return;
      }
      if (options.config === undefined) {
        console.error('tollgate check: give at least one --config FILE');
        process.exitCode = 1;
        return;
      }
      const [{ loadPolicyOrReport }, { formatIssue }] = await Promise.all([import('./config-files.js'), import('../config/config-error.js')]);
      const policy = loadPolicyOrReport(options.config);
      if (!policy) {
        process.exitCode = 1;
        return;
      }
      console.log(summarizePolicy(policy));
      // Valid, so exit 0; the warnings name what is probably not meant.
      for (const w of policy.warnings) console.error(`warning: ${formatIssue(w)}`);
    });
}
