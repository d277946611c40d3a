import type { Command } from 'commander';
import { turnOffPretenuring } from '../server/gc-tuning.js';
import { startGateway } from '../server/start-gateway.js';
import { CONFIG_FLAGS, collectConfig, strayFilesMessage } from './config-files.js';
import { parseHost, parsePort } from './listen-options.js';

const NO_CONFIG = 'tollgate serve: give a config file with --config FILE (for example --config examples/quickstart.yaml)';

/** Registers `tollgate serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .allowExcessArguments(true) // answered with strayFilesMessage
    .description('start the gateway')
    .option(CONFIG_FLAGS, 'config file (repeat to merge several, in order)', collectConfig, [] as string[])
    .option('--host <host>', 'listen address (overrides server.host)', parseHost)
    .option('--port <port>', 'listen port (overrides server.port; 0 = any free port)', parsePort)
    .action(async (opts: { config: string[]; host?: string; port?: number }, command: Command) => {
      // Not a requiredOption: the collector's empty default would satisfy it, and loading nothing fails obscurely.
      const usageError = strayFilesMessage('serve', command.args) ?? (opts.config.length === 0 ? NO_CONFIG : undefined);
      if (usageError) {
        console.error(usageError);
        process.exitCode = 1;
        return;
      }
      turnOffPretenuring();
      await startGateway({ configFiles: opts.config, host: opts.host, port: opts.port });
    });
}
