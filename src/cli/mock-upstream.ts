import type { Command } from 'commander';

/** Registers `tollgate mock-upstream` (not yet built). */
export function registerMockUpstream(program: Command): void {
  program.command('mock-upstream').action(() => {
    console.error('tollgate mock-upstream: not implemented yet');
    process.exitCode = 1;
  });
}
