import type { Command } from 'commander';
import { startGateway } from '../server/start-gateway.js';

/** Registers `tollgate serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the gateway')
    .requiredOption('-c, --config <file>', 'config file (repeat to merge several, in order)', collect, [])
    .option('--host <host>', 'listen address (overrides server.host)')
    .option('--port <port>', 'listen port (overrides server.port)', (v) => Number.parseInt(v, 10))
    .action(async (opts: { config: string[]; host?: string; port?: number }) => {
      await startGateway({ configFiles: opts.config, host: opts.host, port: opts.port });
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
