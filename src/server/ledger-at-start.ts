// Opening the ledger as a gateway starts: refused when it cannot take rows, opened in the background when
// its database is down and the counters live in Redis, and the warnings an operator needs at start (a
// schema a later release migrated, another gateway keeping memory counters on the same SQLite file).
import type { Logger } from 'pino';
import type { Policy } from '../config/policy.js';
import type { Ledger } from '../ledger/ledger.js';
import { isTransientOpenError, LateLedger } from '../ledger/late-ledger.js';
import { openLedger, sqlitePath, type OpenLedgerOptions } from '../ledger/open-ledger.js';
import { sqliteUnwritable } from './sqlite-writable.js';
import { claimFileFor, claimMemoryCounters, type MemoryCountersClaim } from './memory-counters-claim.js';
import { redactUrl } from '../util/redact-url.js';
import { throttledLog } from '../util/log-throttle.js';

/** A database still down at start is said at most this often. */
const STILL_DOWN_LOG_EVERY_MS = 30_000;

/**
 * Opens the ledger for a starting gateway. A PostgreSQL database that does not answer stops the start only
 * when the counters are in memory (they are rebuilt from the ledger, or a restart would hand out fresh
 * budgets); with a shared store the gateway serves, its rows wait in the writer's buffer, and the
 * ledger opens in the background (late-ledger.ts), so a database outage does not keep restarted
 * gateways down.
 */
export async function openLedgerAtStart(policy: Policy, opts: OpenLedgerOptions, log: Logger, onReady: () => void): Promise<Ledger> {
  const url = policy.storage.ledger;
  const open = (): Promise<Ledger> => openLedger(url, opts).then((ledger) => warnIfSchemaAhead(ledger, url, log));
  const where = `storage.ledger: cannot open ${redactUrl(url)}`;
  // A file the gateway may not write would open read-only, and every row would be lost: refuse to start.
  const path = sqlitePath(url, opts.baseDir);
  const unwritable = path === undefined ? undefined : sqliteUnwritable(path);
  if (unwritable) throw new Error(`storage.ledger: cannot write ${redactUrl(url)}: ${unwritable}; every call is recorded there, so the gateway does not start without it`);
  try {
    return await open();
  } catch (err) {
    if (!isTransientOpenError(err)) throw new Error(`${where}: ${(err as Error).message}`);
    if (policy.storage.counters === 'memory') {
      throw new Error(`${where}: ${(err as Error).message} (memory counters are rebuilt from the ledger at start, so the gateway cannot start without it; with counters in Redis it would)`);
    }
    log.error({ ledger: redactUrl(url), error: (err as Error).message }, 'ledger database unreachable at start; serving with the counters in the shared store, call rows kept in memory until it answers');
    const stillDown = throttledLog(STILL_DOWN_LOG_EVERY_MS);
    return new LateLedger({
      open,
      firstError: err as Error,
      onRetryFailed: (e) => stillDown(() => log.error({ ledger: redactUrl(url), error: e.message }, 'ledger database still unreachable')),
      onReady,
    });
  }
}

/**
 * A ledger a later release has migrated (this one is a rollback) still takes this release's rows, but
 * they leave that release's newer columns at their defaults: said at start rather than found later.
 */
function warnIfSchemaAhead(ledger: Ledger, url: string, log: Logger): Ledger {
  const ahead = ledger.schemaAhead;
  if (ahead) {
    log.warn(
      { ledger: redactUrl(url), schemaVersion: ahead.version, knownVersion: ahead.known },
      `the ledger's schema is at version ${ahead.version}, newer than this tollgate's ${ahead.known}: a later release migrated it (a rollback or a mixed fleet?); this gateway's rows leave the newer columns empty, so upgrade it to the release that migrated the ledger`,
    );
  }
  return ledger;
}

/**
 * Warns when another running gateway keeps its counters in memory on the same SQLite ledger: each would
 * enforce every limit alone. A warning, not a refusal: a rolling update that starts the new process before
 * the old one exits (Kubernetes' default) must not deadlock, and the overlap is that short.
 */
export function claimLedgerForMemoryCounters(path: string | undefined, log: Logger): MemoryCountersClaim | undefined {
  if (path === undefined || path === ':memory:') return undefined;
  try {
    const claim = claimMemoryCounters(path);
    if (!claim.held) {
      log.warn(
        { ledger: path, lock: claimFileFor(path) },
        'another gateway with counters in memory is running on this SQLite ledger: each enforces every limit on its own, so together they admit more than a limit allows; several gateways must share their counters in Redis (storage.counters)',
      );
    }
    return claim;
  } catch (err) {
    log.warn({ ledger: path, error: (err as Error).message }, 'could not check whether another gateway with counters in memory uses this SQLite ledger');
    return undefined;
  }
}
