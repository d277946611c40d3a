import type { Command } from 'commander';

/** Registers `tollgate check` (not yet built). */
export function registerCheck(program: Command): void {
  program.command('check').action(() => {
    console.error('tollgate check: not implemented yet');
    process.exitCode = 1;
  });
}
