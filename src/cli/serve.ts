import type { Command } from 'commander';
import { turnOffPretenuring } from '../server/gc-tuning.js';
import { startGateway } from '../server/start-gateway.js';
import { CONFIG_FLAGS, collectConfig } from './config-files.js';

/** Registers `tollgate serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the gateway')
    .requiredOption(CONFIG_FLAGS, 'config file (repeat to merge several, in order)', collectConfig, [])
    .option('--host <host>', 'listen address (overrides server.host)')
    .option('--port <port>', 'listen port (overrides server.port)', (v) => Number.parseInt(v, 10))
    .action(async (opts: { config: string[]; host?: string; port?: number }) => {
      turnOffPretenuring();
      await startGateway({ configFiles: opts.config, host: opts.host, port: opts.port });
    });
}
