import { InvalidArgumentError, type Command } from 'commander';
import { turnOffPretenuring } from '../server/gc-tuning.js';
import { startGateway } from '../server/start-gateway.js';
import { CONFIG_FLAGS, collectConfig } from './config-files.js';

/** Parses `--port`: a whole number from 0 (any free port) to 65535, or a usage error. */
export function parsePort(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (Number.isInteger(n) && n >= 0 && n <= 65535) return n;
  // Exit code 1, like commander's other usage errors.
  throw new InvalidArgumentError(`--port must be a whole number from 0 to 65535, not '${value}'.`);
}

// Listen failures the user can fix, as the one line that says so (instead of a stack trace).
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host',
};

/** The one-line message for a listen failure, or undefined for any other error. */
export function listenFailure(err: unknown): string | undefined {
  const e = err as { code?: unknown; syscall?: unknown; address?: unknown; port?: unknown } | null;
  if (typeof e?.code !== 'string' || e.syscall !== 'listen' || !(e.code in LISTEN_ERRORS)) return undefined;
  const host = typeof e.address === 'string' && e.address.includes(':') ? `[${e.address}]` : String(e.address);
  return `tollgate: cannot listen on ${host}:${String(e.port)}: ${LISTEN_ERRORS[e.code]}`;
}

/** Registers `tollgate serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the gateway')
    .requiredOption(CONFIG_FLAGS, 'config file (repeat to merge several, in order)', collectConfig, [])
    .option('--host <host>', 'listen address (overrides server.host)')
    .option('--port <port>', 'listen port (overrides server.port; 0 = any free port)', parsePort)
    .action(async (opts: { config: string[]; host?: string; port?: number }) => {
      turnOffPretenuring();
      try {
        await startGateway({ configFiles: opts.config, host: opts.host, port: opts.port });
      } catch (err) {
        const message = listenFailure(err);
        if (message === undefined) throw err;
        console.error(message);
        // The counter store, ledger and file watchers are open: exit rather than wait for them.
        process.exit(1);
      }
    });
}
