import { InvalidArgumentError, type Command } from 'commander';
import { isListenHost } from '../config/index.js';
import { turnOffPretenuring } from '../server/gc-tuning.js';
import { startGateway } from '../server/start-gateway.js';
import { CONFIG_FLAGS, collectConfig, strayFilesMessage } from './config-files.js';

/** Parses `--port`: a whole number from 0 (any free port) to 65535, or a usage error. */
export function parsePort(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (Number.isInteger(n) && n >= 0 && n <= 65535) return n;
  // Exit code 1, like commander's other usage errors.
  throw new InvalidArgumentError(`--port must be a whole number from 0 to 65535, not '${value}'.`);
}

/** Parses `--host` as `server.host` is checked; whether the name resolves is found out when listening. */
export function parseHost(value: string): string {
  if (isListenHost(value)) return value;
  throw new InvalidArgumentError(`--host must be a host name or an IP address, not '${value}'.`);
}

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
