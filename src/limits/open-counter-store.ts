// Builds the counter store `storage.counters` names: in-process memory, or Redis / Redis Cluster behind
// the fail-open / fail-closed wrapper. A store that is down at start-up never stops the gateway starting.
import type { Policy } from '../config/policy.js';
import { monotonicClock, systemClock, type Clock } from '../util/clock.js';
import type { CounterStore } from './counter-store.js';
import { MemoryCounterStore } from './memory-store.js';
import { ResilientStore } from './resilient-store.js';
import type { StoreLog } from './store-health.js';
import { redactUrl } from '../util/redact-url.js';

/** Opens the configured counter store; resolves once Redis answers, or degraded after a few timeouts. */
export async function openCounterStore(policy: Policy, log: StoreLog, clock: Clock = systemClock): Promise<CounterStore> {
  const { storage } = policy;
  const timezone = policy.server.timezone;
  if (storage.counters === 'memory') return new MemoryCounterStore(clock, timezone);
  // Imported here: ioredis costs a gateway that keeps its counters in memory some 9 MB of RSS.
  const { createRedisClient, lastErrorOf, waitReady } = await import('./redis/redis-client.js');
  const { RedisCounterStore } = await import('./redis/redis-store.js');
  const description = redactUrl(storage.counters);
  const client = createRedisClient(storage.counters, storage.timeoutMs);
  const cluster = /^rediss?-cluster:/.test(storage.counters);
  // A test's clock stands for every clock; otherwise leases measure their age on a monotonic one.
  const leaseClock = clock === systemClock ? monotonicClock : clock;
  const leases = storage.leaseMs > 0 ? { leases: { ms: storage.leaseMs, clock: leaseClock } } : {};
  const primary = new RedisCounterStore(client, { timezone, clock, reservationTtlMs: storage.reservationTtlMs, rebuildWaitMs: storage.rebuildWaitMs, ...leases, ...(cluster ? { callTimeoutMs: storage.timeoutMs } : {}) });
  const store = new ResilientStore(primary, { defaultMode: storage.onStoreError, instances: storage.instances, timezone, clock, log, description });
  const { permissionProblem } = await import('./redis/command-permissions.js');
  if (await waitReady(client, Math.max(2000, 4 * storage.timeoutMs))) {
    const refused = await permissionProblem(client);
    if (refused !== undefined) store.markUnavailable(refused);
    else log.info({ store: description, on_store_error: storage.onStoreError, instances: storage.instances, lease_ms: storage.leaseMs }, 'counters shared in Redis');
  } else {
    const error = lastErrorOf(client);
    store.startDegraded(error ? `not ready at start-up: ${error}` : 'no answer at start-up');
  }
  // Each reconnection too: a restarted Redis, or a new primary, may have other ACLs. While the store is
  // down its probe's ping runs this check before the store is used again: checking here too ran it twice.
  client.on('ready', () => {
    if (store.probing) return;
    void permissionProblem(client).then((refused) => refused !== undefined && store.markUnavailable(refused));
  });
  const { warnWhenEvicting } = await import('./redis/eviction-policy.js');
  await warnWhenEvicting(client, log, description);
  if (storage.leaseMs === 0) return store;
  const { LeasedStore } = await import('./leased-store.js');
  return new LeasedStore(store, { leaseMs: storage.leaseMs, clock: leaseClock });
}
