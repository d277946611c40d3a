// Wires usage accounting into a gateway process: the ledger and its writer, Prometheus metrics, the
// admin API, and the counter rebuild at start-up. `start-gateway.ts` calls these few functions.
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ServerOptions } from '../proxy/server.js';
import type { Logger } from 'pino';
import type { Policy } from '../config/policy.js';
import { adminRoutes } from '../admin/admin-routes.js';
import { LedgerWriter } from '../ledger/batch-writer.js';
import { rowFromCall } from '../ledger/call-row.js';
import type { Ledger, LedgerRow } from '../ledger/ledger.js';
import { LateLedger } from '../ledger/late-ledger.js';
import { sqlitePath } from '../ledger/open-ledger.js';
import { claimLedgerForMemoryCounters, openLedgerAtStart } from './ledger-at-start.js';
import { redactUrl } from '../util/redact-url.js';
import { throttledLog } from '../util/log-throttle.js';
import { PriceBook } from '../ledger/price-book.js';
import { rebuildCounters, type RebuildReport } from '../ledger/rebuild-counters.js';
import { ReloadCarry } from '../ledger/reload-carry.js';
import type { CounterStore } from '../limits/counter-store.js';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { metricsRoute } from '../metrics/metrics-route.js';
import { retrack } from '../metrics/retrack-limits.js';
import { webRoutes } from '../web/dashboard-page.js';
import type { CallRecord, Gateway } from '../proxy/gateway.js';
import type { Clock } from '../util/clock.js';
import { withTimeout } from '../util/with-timeout.js';
import { openSpill, replaySpillsLogged, spilledRowsReplayer, spillPlaceFor } from './ledger-spill.js';

/** Repeated ledger failures are logged at most this often. */
const LOG_EVERY_MS = 5000;
/** The longest a strict call waits for its row's commit before it is answered anyway. */
const STRICT_WAIT_MS = 2000;

export interface UsageServicesOptions {
  policy: Policy;
  store: CounterStore;
  clock: Clock;
  log: Logger;
  /** The policy in force now (it changes on reload). */
  currentPolicy: () => Policy;
}

export interface UsageServices {
  /** Undefined when `ledger.enabled` is false. */
  ledger?: Ledger;
  writer?: LedgerWriter;
  metrics?: GatewayMetrics;
  /** Routes to hand to `buildServer`. */
  routes: Array<(app: FastifyInstance) => void>;
  /** To hand to `buildServer`: counts requests rejected before they became calls (on /metrics). */
  onRejected?: ServerOptions['onRejected'];
  /** Records every call of this gateway (call again for the gateway a reload builds). */
  attach(gateway: Gateway): void;
  /**
   * After a config reload replaced `old`: once `rebuilt` (the rebuild for the new config) has settled, each
   * call `old` admitted is charged, as it ends, to the new config's counts it was not charged to (reload-carry.ts).
   */
  carryAfterReload(old: Gateway, rebuilt: Promise<unknown>): void;
  /** Raises the counters to what the ledger shows (start-up, before listening). */
  rebuild(countersLost?: boolean): Promise<RebuildReport>;
  /** `rebuild`, its outcome logged; a failure is logged, never thrown, and resolved with (the caller decides whether to serve on). */
  rebuildLogged(countersLost?: boolean): Promise<Error | undefined>;
  /** Rebuilds counters a shared store lost while the gateway ran (a flushed Redis), every buffered row first. */
  rebuildLost(): Promise<void>;
  /**
   * After a config reload: the ledger's rows written first, then every counter of `policy` raised to the
   * ledger's figure. A limit whose algorithm or window changed has a new, empty counter; this fills it.
   */
  rebuildFor(policy: Policy): Promise<RebuildReport>;
  /** Writes every buffered row and closes the ledger (SIGTERM, after the server drained). */
  close(): Promise<void>;
}

/** Opens the ledger named by `storage.ledger` (relative SQLite paths are relative to the first config file). */
export async function startUsageServices(opts: UsageServicesOptions): Promise<UsageServices> {
  const { policy, store, clock, log } = opts;
  const baseDir = policy.sources[0] ? dirname(resolve(policy.sources[0])) : process.cwd();
  const strict = policy.ledger.durability === 'strict';
  // Set once the services exist: a ledger opened late rebuilds the counters then.
  let openedLate = (): void => {};
  const ledger = policy.ledger.enabled ? await openLedgerAtStart(policy, { baseDir, strict }, log, () => openedLate()) : undefined;
  const spillPlace = ledger ? spillPlaceFor(policy, baseDir) : undefined;
  // Rows earlier processes could not write go in before anything reads the ledger (the counter rebuild);
  // a ledger opened late gets them once it opens.
  if (ledger && !(ledger instanceof LateLedger)) await replaySpillsLogged(spillPlace, ledger, log);
  const spill = ledger && openSpill(spillPlace, policy.ledger.spillMaxMb, log);
  const replaySpilledRows = ledger ? spilledRowsReplayer(spill, spillPlace, ledger, log) : () => {};
  const claim = ledger && policy.storage.counters === 'memory' ? claimLedgerForMemoryCounters(sqlitePath(policy.storage.ledger, baseDir), log) : undefined;
  // One line every few seconds is enough while the database is down (these repeat per row or per call).
  const writeFailed = throttledLog(LOG_EVERY_MS);
  let droppedSinceLog = 0;
  const dropped = throttledLog(LOG_EVERY_MS);
  let spilledSinceLog = 0;
  const spilledFull = throttledLog(LOG_EVERY_MS);
  const writer = ledger && new LedgerWriter(ledger, {
    flushIntervalMs: policy.ledger.flushIntervalMs,
    batchSize: policy.ledger.batchSize,
    maxBufferedRows: policy.ledger.maxBufferedRows,
    closeDeadlineMs: policy.ledger.shutdownFlushMs,
    ...(spill ? { spill } : {}),
    onSpill: (rows, file, why) => {
      if (why === 'shutdown') {
        log.error({ rows, file }, `the ledger did not take ${rows} rows before shutdown; they are kept in ${file} and written to the ledger at the next start`);
        return;
      }
      spilledSinceLog += rows;
      spilledFull(() => {
        log.error({ rows: spilledSinceLog, file }, 'ledger write buffer full; oldest rows moved to the spill file, written to the ledger once it answers again');
        spilledSinceLog = 0;
      });
    },
    onError: (err, rows) => writeFailed(() => log.error({ error: err.message, rows }, 'ledger write failed; rows are kept and retried')),
    onRefused: (row, err) => log.error({ requestId: row.requestId, organization: row.organization, error: err.message }, 'the ledger database refused this call\'s row; it is set aside and the others are written'),
    onRecover: (failedWrites, pendingRows) => {
      log.info({ failedWrites, pendingRows }, 'ledger writes succeed again; the rows kept meanwhile are being written');
      replaySpilledRows();
    },
    onDrop: (rows, why) => {
      droppedSinceLog += rows;
      dropped(() => {
        if (why === 'spill_full') log.error({ rows: droppedSinceLog, file: spill?.path, maxMb: policy.ledger.spillMaxMb }, `ledger write buffer full and the spill file at its cap (ledger.spill_max_mb: ${policy.ledger.spillMaxMb}); oldest rows dropped`);
        else log.error({ rows: droppedSinceLog }, 'ledger write buffer full; oldest rows dropped');
        droppedSinceLog = 0;
      });
    },
  });
  const strictLate = throttledLog(LOG_EVERY_MS);
  const metrics = policy.metrics.enabled
    ? new GatewayMetrics({ userLabels: policy.metrics.userLabels, now: () => clock.now(), peek: (items) => store.peek(items), ...(store.peekDegraded ? { peekDegraded: (items) => store.peekDegraded!(items) } : {}), writerStats: writer && (() => writer.stats()), backgroundCalls: () => current?.background.size ?? 0, processMetrics: true })
    : undefined;
  // The (key, route model) pairs whose limits have been seen, kept across reloads: their headroom stays
  // on /metrics under the new config instead of vanishing until each is used again.
  const tracked = new Map<string, { keyId: string; model: string }>();
  const routes: UsageServices['routes'] = [];
  /** The gateway last attached (a reload attaches the new one). */
  let current: Gateway | undefined;
  // Gateways a reload replaced whose calls are carried into the new counts as they end.
  const carry = ledger && new ReloadCarry(store);
  const carrying = new WeakSet<Gateway>();
  const carryFailed = throttledLog(LOG_EVERY_MS);
  if (ledger) routes.push(adminRoutes({ policy: opts.currentPolicy, ledger, writer, store, now: () => clock.now() }), webRoutes());
  if (metrics) routes.push(metricsRoute(metrics, policy.metrics.bearerTokenSha256));

  /** The ledger's buffered rows written, then every counter of `policy` raised to the ledger's figure. */
  const flushAndRebuild = async (l: Ledger, policy: Policy, countersLost: boolean): Promise<RebuildReport> => {
    if (writer?.failing) throw new Error(LEDGER_FAILING);
    // A carry landing after this rebuild read its call's row would count the call twice.
    await carry?.idle();
    await writer?.flush();
    return rebuildCounters(l, policy, store, () => clock.now(), countersLost);
  };
  const services: UsageServices = {
    ledger,
    writer,
    metrics,
    routes,
    onRejected: metrics && ((r) => metrics.reject(r)),
    attach(gateway) {
      current = gateway;
      if (ledger) gateway.ownerArchive = ledger;
      const prices = new PriceBook(gateway.policy.pricing);
      if (metrics) {
        retrack(gateway, metrics, tracked, () => current === gateway).catch((err: Error) =>
          log.error({ error: err.message }, "could not track on /metrics the limits of the calls seen before the reload; each shows again at its key and model's next call"),
        );
        gateway.onTokenFreeRequest((r) => metrics.observeTokenFreeRequest({ organization: r.principal.organization, project: r.principal.project, status: r.status }));
      }
      const observe = (r: CallRecord): LedgerRow => {
        const row = rowFromCall(r, prices);
        if (carry && current && current !== gateway && carrying.has(gateway)) {
          carry.carry(row, gateway.policy, current.policy).catch((err: Error) =>
            carryFailed((calls) => log.warn({ calls, error: err.message }, 'could not charge calls admitted before a reload to the counters the new configuration made; the rebuild once they have all ended raises those counters to the ledger\'s figures')),
          );
        }
        if (metrics) {
          metrics.observe(row);
          // Refused calls count too (they list the limits they were checked against): a limit already
          // spent when this gateway started, or reloaded, is first seen by the 429 it gives, and its
          // headroom (0) is exactly what must show. Calls the limits never saw list none.
          const combo = `${r.principal.keyId}\u0000${r.target.qualifiedName}`;
          if (r.limits.length > 0 && !tracked.has(combo)) {
            tracked.set(combo, { keyId: r.principal.keyId, model: r.target.qualifiedName });
            metrics.trackLimits(r.principal.organization, gateway.engine.applicable.for(r.principal, r.target));
          }
        }
        return row;
      };
      if (!writer) {
        if (metrics) gateway.onCall((r) => void observe(r));
      } else if (strict) {
        // `strict` as the gateway started: a reload does not switch durability (SQLite's sync mode stays).
        gateway.recordSink = async (r) => {
          const row = observe(r);
          // While the ledger is failing, a call does not wait for the writer's next retry: its row is queued.
          if (writer.failing) {
            writer.push(row);
            strictLate((calls) => log.error({ calls }, 'strict ledger writes are failing; answering without waiting, the rows are queued and retried'));
            return;
          }
          // The caller gets the answer it paid for within STRICT_WAIT_MS whatever the database does; a row
          // not committed by then (or refused) stays buffered and is retried. A row that would wait for a
          // rebuild (store.rowAfter) is written now too: its call counted twice at worst, not answered late.
          const failed = await withTimeout(writer.writeNow(row), STRICT_WAIT_MS, `not committed within ${STRICT_WAIT_MS} ms`).then(
            () => undefined,
            (err: Error) => err,
          );
          if (failed) strictLate((calls) => log.error({ calls, error: failed.message }, 'strict ledger write failed; answering anyway, the rows are queued and retried'));
        };
      } else {
        gateway.onCall((r) => {
          try {
            const row = observe(r);
            // A call whose usage reaches the store after a rebuild of lost counters under way (admitted
            // locally, or settled on the reservation the rebuild places back): written after the rebuild.
            const after = store.rowAfter?.(r.requestId);
            if (after) void after.then(() => writer.push(row));
            else writer.push(row);
          } catch (err) {
            log.error({ error: (err as Error).message, requestId: r.requestId }, 'could not record a call');
          }
        });
      }
    },
    carryAfterReload(old, rebuilt) {
      // Not before: a row written while the rebuild read the ledger may be in what it read.
      const start = (): void => void carrying.add(old);
      if (carry) rebuilt.then(start, start);
    },
    async rebuild(countersLost = false) {
      if (!ledger) return NOTHING_REBUILT;
      if (ledger instanceof LateLedger && !ledger.ready) {
        throw new Error('its database is not reachable yet; the shared store keeps the counters meanwhile, and they are rebuilt once it is');
      }
      const report = await rebuildCounters(ledger, opts.currentPolicy(), store, () => clock.now(), countersLost);
      // The limits of everyone with calls in the ledger go on /metrics at once, not at each one's next call:
      // after a restart, a spent limit shows its 0 headroom before anyone is refused by it.
      if (metrics && current) {
        for (const c of report.callers) tracked.set(`${c.keyId}\u0000${c.model}`, c);
        const gateway = current;
        await retrack(gateway, metrics, tracked, () => current === gateway);
      }
      return report;
    },
    rebuildLogged(countersLost = false) {
      // Said rather than "counters rebuilt" with 0 limits: a restart with memory counters starts every budget afresh.
      if (!ledger) {
        log.info({}, 'no ledger (ledger.enabled: false): counters start from zero, nothing to rebuild them from');
        return Promise.resolve(undefined);
      }
      return services.rebuild(countersLost).then(
        (r) => void log.info({ limits: r.limits, ms: Math.round(r.ms), skippedCalls: r.skippedCalls }, 'counters rebuilt from the ledger'),
        (err: Error) => {
          // A shared store down at start-up: its counters, if it lost them, are rebuilt once it answers (rebuildWhenLost).
          if (store.mode !== undefined && store.mode !== 'ok') {
            log.warn({ error: err.message }, 'counters not rebuilt from the ledger at start-up: the counter store does not answer; if it lost them, they are rebuilt once it answers');
          } else log.error({ error: err.message }, 'could not rebuild counters from the ledger');
          return err;
        },
      );
    },
    async rebuildFor(policy) {
      if (!ledger) return NOTHING_REBUILT;
      return flushAndRebuild(ledger, policy, false);
    },
    async rebuildLost() {
      if (!ledger) {
        log.error({}, 'the counter store lost its counters (Redis flushed or restarted empty) and there is no ledger to rebuild them from: counting starts again from zero');
        return;
      }
      // Without the ledger's database the rebuild cannot succeed: say so at once rather than wait on the
      // writer's retries (every request would, with the gateway blaming Redis).
      if (writer?.failing) throw new Error(LEDGER_FAILING);
      log.warn({}, 'the counter store lost its counters, or may have (Redis flushed, restarted empty, or failed over to a replica); rebuilding them from the ledger');
      const r = await flushAndRebuild(ledger, opts.currentPolicy(), true);
      log.info({ limits: r.limits, ms: Math.round(r.ms) }, 'counters rebuilt from the ledger');
    },
    async close() {
      try {
        await writer?.close();
      } finally {
        // Lets a starting gateway replay the file (it waits for no lock held by a process gone anyway).
        spill?.close();
      }
      await ledger?.close();
      claim?.release();
    },
  };
  openedLate = () => {
    log.info({ ledger: redactUrl(policy.storage.ledger) }, 'ledger database reachable; the rows kept meanwhile are being written');
    void replaySpillsLogged(spillPlace, ledger!, log).then(() => services.rebuildLogged());
  };
  return services;
}

/** A rebuild without a ledger: nothing to rebuild from. */
const NOTHING_REBUILT: RebuildReport = Object.freeze({ limits: 0, skippedCalls: 0, skippedKeys: [], callers: [], ms: 0 });
const LEDGER_FAILING = 'the ledger is not accepting writes';
