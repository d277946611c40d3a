// What a RedisCounterStore is built with, and the usage it is handed to add after an outage.
import type { Clock } from '../../util/clock.js';
import type { CounterItem } from '../counter-store.js';
import type { LeaseWait } from './lease-wait.js';

export interface RedisStoreOptions {
  timezone: string;
  /** The instance clock. Only used to offer window candidates; Lua decides with Redis TIME. */
  clock: Clock;
  /** How long the record of an unsettled reservation lives. */
  reservationTtlMs: number;
  /**
   * Redis Cluster: the most a reservation or settlement may take. ioredis sends a command again after a
   * failover, a CLUSTERDOWN or a redirection, each time with a fresh command timeout, so without this a
   * call waited up to 8x `storage.timeout_ms`.
   */
  callTimeoutMs?: number;
  /**
   * `storage.rebuild_wait_ms`: the most a reservation waits for counters Redis lost to be rebuilt from
   * the ledger (lost-counters.ts); past it the reservation fails as CountersNotRebuiltError.
   */
  rebuildWaitMs?: number;
  /**
   * `storage.lease_ms` (when set) and the clock leases measure their age on: a rebuild of lost counters
   * first waits out the slices granted before the loss (lease-wait.ts), and a reservation waits for the
   * rebuild that much longer.
   */
  leases?: LeaseWait;
  /**
   * Tests only: the time every script uses instead of Redis TIME. Contract tests place requests 1 ms
   * before a window edge; Redis TIME cannot be set, and short real windows would make them slow and flaky.
   */
  timeOverride?: Clock;
}

/** Usage counted elsewhere (locally while Redis was unreachable) to add into the windows it belongs to. */
export interface ReconcileEntry {
  item: CounterItem;
  atMs: number;
  amount: number;
}
