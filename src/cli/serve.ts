import type { Command } from 'commander';
import { turnOffPretenuring } from '../server/gc-tuning.js';
import { CONFIG_FLAGS, collectConfig, strayFilesMessage } from './config-flags.js';
import { parseHost, parsePort } from './listen-options.js';

const NO_CONFIG = 'tollgate serve: give a config file with --config FILE (for example --config examples/quickstart.yaml)';
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Why TOLLGATE_LOG_LEVEL cannot be used (pino would throw its own stack trace at start). */
function logLevelProblem(level: string | undefined): string | undefined {
  if (level === undefined || LOG_LEVELS.includes(level)) return undefined;
  return `tollgate serve: TOLLGATE_LOG_LEVEL=${level} is not a log level; use one of ${LOG_LEVELS.join(', ')} (info when unset)`;
}

/** Registers `tollgate serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .allowExcessArguments(true) // answered with strayFilesMessage
    .description('start the gateway')
    .option(CONFIG_FLAGS, 'config file (repeat to merge several, in order)', collectConfig)
    .option('--host <host>', 'listen address (overrides server.host)', parseHost)
    .option('--port <port>', 'listen port (overrides server.port; 0 = any free port)', parsePort)
    .action(async (opts: { config?: string[]; host?: string; port?: number }, command: Command) => {
      const files = opts.config ?? [];
      // Not a requiredOption: its message would not say what to give (a newcomer runs `tollgate serve` bare).
      const usageError = strayFilesMessage('serve', command.args) ?? (files.length === 0 ? NO_CONFIG : undefined) ?? logLevelProblem(process.env.TOLLGATE_LOG_LEVEL);
      if (usageError) {
        console.error(usageError);
        process.exitCode = 1;
        return;
      }
      turnOffPretenuring();
      // Loaded here, not at the top: every other command (and --help, --version) would wait for the
      // whole gateway's modules, ~0.45 s, before doing anything.
      const { startGateway } = await import('../server/start-gateway.js');
      await startGateway({ configFiles: files, host: opts.host, port: opts.port });
    });
}
