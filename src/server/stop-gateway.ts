// What SIGTERM and SIGINT do to a running gateway: the drain delay (still serving, /healthz failing, so a
// load balancer takes the instance out before its listener closes), then the drain (in-flight requests
// and streams finish, stragglers are cut at the drain timeout), then the ledger flush and exit.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type pino from 'pino';
import type { CounterStore } from '../limits/counter-store.js';
import type { DrainState } from '../proxy/drain-state.js';
import type { Gateway } from '../proxy/gateway.js';
import type { UsageServices } from './usage-services.js';

/** A second Ctrl-C exits at once, with the shell's code for an interrupt. */
const INTERRUPTED_EXIT_CODE = 130;
/** How often keep-alive connections gone idle are closed during the drain. */
const IDLE_SWEEP_MS = 50;
/** After the drain, how long calls whose connections were cut may take to be settled and recorded. */
const RECORD_GRACE_MS = 5_000;

export interface StopParts {
  app: FastifyInstance;
  drain: DrainState;
  /** The gateway of the current config: the drain settings are read from it at the signal, so a reload applies them. */
  gateway: () => Gateway;
  /** The gateways of earlier configs still finishing calls they admitted (each resolves once they are done). */
  retiring?: () => Array<Promise<void>>;
  usage: UsageServices;
  store: CounterStore;
  log: pino.Logger;
}

/** Handles SIGTERM and SIGINT for the life of the process. */
export function stopOnSignals(parts: StopParts): void {
  const { app, drain, usage, store, log } = parts;
  const silent = silentConnections(app.server);
  let stopping = false;
  let cutDelayShort: (() => void) | undefined;

  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      if (signal === 'SIGINT') {
        // Whoever presses Ctrl-C twice does not want to wait for the delay or the drain.
        console.error('tollgate: interrupted again; exiting without waiting for in-flight requests (unwritten ledger rows are lost)');
        process.exit(INTERRUPTED_EXIT_CODE);
      }
      // A second SIGTERM asks to go sooner, but not to lose anything: the drain starts now.
      if (cutDelayShort) {
        log.info({ signal }, 'drain delay cut short by a second signal');
        cutDelayShort();
      }
      return;
    }
    stopping = true;
    const { drainDelayMs, drainTimeoutMs } = parts.gateway().policy.server;
    drain.draining = true;
    // Every call's row must be written before the ledger closes: none waits for a rebuild's read any more.
    store.stopping?.();
    if (drainDelayMs > 0) {
      log.info({ signal, drainDelayMs }, `drain delay started: serving on for ${drainDelayMs} ms with /healthz answering 503 and every response closing its connection`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainDelayMs);
        cutDelayShort = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      cutDelayShort = undefined;
      log.info({ drainTimeoutMs }, 'drain delay over: closing the listener and draining in-flight requests');
    } else {
      log.info({ signal, drainTimeoutMs }, 'draining in-flight requests');
    }
    // close() waits for every connection; keep-alive connections that finish their request during the
    // drain must be closed as they go idle, and stragglers are cut after the drain timeout (a stream cut
    // so is settled and recorded as one whose client left: pipeline.ts).
    // Connections that never sent a request are neither in flight nor idle to Node: closed as well.
    const sweep = setInterval(() => {
      app.server.closeIdleConnections();
      silent.close();
    }, IDLE_SWEEP_MS);
    const deadline = setTimeout(() => {
      log.warn({ drainTimeoutMs }, 'drain timeout: closing the connections of requests still in flight');
      app.server.closeAllConnections();
    }, drainTimeoutMs);
    await app.close();
    clearInterval(sweep);
    clearTimeout(deadline);
    const gateway = parts.gateway();
    // Background responses still generating are asked about once more, then settled (those still running
    // with their whole grant): their rows go with the rest.
    await gateway.background.finishAll();
    // Streams cut at the timeout are settled and recorded after their connections closed; their upstream
    // calls are stopped, so this is quick. The provider pools close once they are done.
    // Those admitted before a config reload too: they hold their old gateway, not this one.
    const recorded = Promise.all([gateway.retire(), ...(parts.retiring?.() ?? [])]).then(() => undefined);
    await finishedWithin(recorded, RECORD_GRACE_MS, () =>
      log.warn({ requestsInFlight: gateway.requestsInFlight }, `calls still unrecorded ${RECORD_GRACE_MS} ms after the drain; flushing the ledger without them`),
    );
    // Every finished call reaches the ledger before the process goes: SIGTERM loses no row.
    const flushed = await usage.close().then(
      () => true,
      (err: Error) => {
        log.error({ error: err.message, rows: usage.writer?.stats().pending }, 'ledger flush failed at shutdown; these buffered rows are lost (their calls stay counted)');
        return false;
      },
    );
    await store.close();
    process.exit(flushed ? 0 : 1);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/**
 * The server's connections that have not sent a byte: a socket a client opened ahead of its next request
 * (undici's pool does, after a stream it aborted; so do browsers and load balancers). Node's
 * closeIdleConnections() leaves them, as they never had a request, and the drain waited for its timeout
 * (30 s by default) on one. `close()` destroys them: nothing was asked on them, so nothing is lost.
 */
function silentConnections(server: Server): { close(): void } {
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return {
    close: () => {
      for (const socket of open) if (socket.bytesRead === 0) socket.destroy();
    },
  };
}

/** Waits for `work`, or `ms` at most (then calls `late`): shutdown must not hang on it. */
async function finishedWithin(work: Promise<void>, ms: number, late: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  if ((await Promise.race([work, timedOut])) === 'late') late();
  clearTimeout(timer);
}
