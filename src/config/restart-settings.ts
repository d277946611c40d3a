// A reload swaps the policy the gateway reads per request, but some settings were used once, at start:
// the listening socket, the body limit, the counter store, the ledger and its writer, the metrics
// registry. A reload that changes them would otherwise say only "configuration reloaded".
import type { Policy } from './policy.js';

// Each setting read only at start, by its config field name, and where the policy holds it.
const START_ONLY: ReadonlyArray<readonly [field: string, read: (p: Policy) => unknown]> = [
  ['server.host', (p) => p.server.host],
  ['server.port', (p) => p.server.port],
  // The counter store rolls calendar windows over in the zone it was opened with.
  ['server.timezone', (p) => p.server.timezone],
  ['server.max_body_bytes', (p) => p.server.maxBodyBytes],
  ['storage.counters', (p) => p.storage.counters],
  ['storage.ledger', (p) => p.storage.ledger],
  ['storage.on_store_error', (p) => p.storage.onStoreError],
  ['storage.timeout_ms', (p) => p.storage.timeoutMs],
  ['storage.rebuild_wait_ms', (p) => p.storage.rebuildWaitMs],
  ['storage.instances', (p) => p.storage.instances],
  ['storage.reservation_ttl_ms', (p) => p.storage.reservationTtlMs],
  ['storage.lease_ms', (p) => p.storage.leaseMs],
  ['storage.key_refresh_ms', (p) => p.storage.keyRefreshMs],
  ['ledger.enabled', (p) => p.ledger.enabled],
  ['ledger.durability', (p) => p.ledger.durability],
  ['ledger.flush_interval_ms', (p) => p.ledger.flushIntervalMs],
  ['ledger.batch_size', (p) => p.ledger.batchSize],
  ['ledger.max_buffered_rows', (p) => p.ledger.maxBufferedRows],
  ['ledger.shutdown_flush_ms', (p) => p.ledger.shutdownFlushMs],
  ['ledger.spill_dir', (p) => p.ledger.spillDir],
  ['ledger.spill_max_mb', (p) => p.ledger.spillMaxMb],
  ['metrics.enabled', (p) => p.metrics.enabled],
  ['metrics.user_labels', (p) => p.metrics.userLabels],
  ['metrics.bearer_token', (p) => p.metrics.bearerTokenSha256],
];

// A reservation TTL no file sets follows the longest provider timeout: said so, or the warning would name a
// field the operator finds in no file.
const TTL_FROM_TIMEOUTS = "storage.reservation_ttl_ms (not set: twice the longest providers' timeout_ms, at least 15 minutes)";

// Settings of which only one change waits for a restart. CORS is wired into the server at start only when
// origins are named there (proxy/cors.ts), so the default path carries no hook; once it is, the list is
// read per request, and a reload may change it or empty it.
const TURNED_ON_AT_START: ReadonlyArray<readonly [field: string, needsRestart: (running: Policy, next: Policy) => boolean]> = [
  ['server.cors_origins', (running, next) => running.server.corsOrigins.length === 0 && next.server.corsOrigins.length > 0],
];

/** The fields whose values `running` started with and `next` changes, which only a restart applies. */
export function settingsNeedingRestart(running: Policy, next: Policy, overridden: { host?: boolean; port?: boolean } = {}): string[] {
  const changed = START_ONLY.filter(([field, read]) => {
    // `serve --host` / `--port` decide these before and after a restart alike.
    if ((field === 'server.host' && overridden.host) || (field === 'server.port' && overridden.port)) return false;
    return read(running) !== read(next);
  }).map(([field]) => (field === 'storage.reservation_ttl_ms' && next.storage.reservationTtlFromTimeouts ? TTL_FROM_TIMEOUTS : field));
  return [...changed, ...TURNED_ON_AT_START.filter(([, needsRestart]) => needsRestart(running, next)).map(([field]) => field)];
}

/**
 * `next` with every setting read only at start as `running` has it, so that what reads the policy in force
 * agrees with what was built from the start-up one. Left as the files say, a reloaded `server.timezone`
 * put the counter rebuild's windows, the dashboard's days and the audit in another zone than the counter
 * store's (a limit the same reload added was rebuilt into a window the store skipped: empty, and passed).
 * The reload's warning names each such change (settingsNeedingRestart, from the files' values).
 */
export function withStartSettings(running: Policy, next: Policy): Policy {
  const { host, port, timezone, maxBodyBytes } = running.server;
  return { ...next, server: { ...next.server, host, port, timezone, maxBodyBytes }, storage: running.storage, ledger: running.ledger, metrics: running.metrics };
}
