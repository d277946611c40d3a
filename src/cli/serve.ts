import type { Command } from 'commander';

/** Registers `tollgate serve` (not yet built). */
export function registerServe(program: Command): void {
  program.command('serve').action(() => {
    console.error('tollgate serve: not implemented yet');
    process.exitCode = 1;
  });
}
