// Starts a gateway process: load config, build the counter store and server, listen, and handle signals.
import { watch } from 'node:fs';
import pino from 'pino';
import { loadPolicy, ConfigError } from '../config/index.js';
import type { Policy } from '../config/policy.js';
import { MemoryCounterStore } from '../limits/memory-store.js';
import type { CounterStore } from '../limits/counter-store.js';
import { Gateway } from '../proxy/gateway.js';
import { buildServer } from '../proxy/server.js';
import { systemClock } from '../util/clock.js';

/** In-flight requests get this long to finish on SIGTERM. */
const DRAIN_TIMEOUT_MS = 30_000;

export interface StartOptions {
  configFiles: string[];
  host?: string;
  port?: number;
}

/** Runs `tollgate serve` until SIGTERM/SIGINT; exits non-zero with `file:line:` errors on bad config. */
export async function startGateway(opts: StartOptions): Promise<void> {
  const log = pino({ level: process.env.TOLLGATE_LOG_LEVEL ?? 'info', redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] });
  let policy: Policy;
  try {
    policy = loadPolicy(opts.configFiles, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }

  const store = createCounterStore(policy);
  let gateway = new Gateway(policy, store, systemClock);
  const app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes, logger: log });

  // Reload keeps the counter store, so no counter is lost; a bad new config keeps the old one running.
  const reload = (why: string): void => {
    try {
      const next = loadPolicy(opts.configFiles, process.env);
      const old = gateway;
      gateway = new Gateway(next, store, systemClock);
      void old.close();
      log.info({ why }, 'configuration reloaded');
    } catch (err) {
      log.error({ why, error: (err as Error).message }, 'configuration reload failed; keeping the previous configuration');
    }
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  let reloadTimer: NodeJS.Timeout | undefined;
  for (const file of opts.configFiles) {
    watch(file, () => {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(() => reload(`${file} changed`), 200);
    }).unref();
  }

  const host = opts.host ?? policy.server.host;
  const port = opts.port ?? policy.server.port;
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  console.log(`tollgate listening on http://${host}:${actualPort}`);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining in-flight requests');
    // close() waits for every connection; keep-alive connections that finish their request during the
    // drain must be closed as they go idle, and stragglers are cut after the drain timeout.
    const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => app.server.closeAllConnections(), DRAIN_TIMEOUT_MS);
    await app.close();
    clearInterval(sweep);
    clearTimeout(deadline);
    await gateway.close();
    await store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

function createCounterStore(policy: Policy): CounterStore {
  if (policy.storage.counters !== 'memory') {
    console.error(`storage.counters: '${policy.storage.counters}' is not supported by this build yet; use 'memory'.`);
    process.exit(1);
  }
  return new MemoryCounterStore(systemClock, policy.server.timezone);
}
