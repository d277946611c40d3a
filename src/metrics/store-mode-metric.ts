// Which `on_store_error` mode is in force, as Prometheus gauges on the gateway's registry:
//   tollgate_counter_store_mode{mode="ok|fail_open|fail_closed"}    1 for the mode limits that follow
//     `storage.on_store_error` are in, 0 for the others;
//   tollgate_counter_store_limits{mode="ok|fail_open|fail_closed"}  how many configured limits are in each
//     mode now, so per-limit overrides show (default fail_closed with a fail_open rate limit: 1 fail_open).
// The store logs each transition itself, naming the limits that fail open and closed (`describeLimits`).
// With budget leases (`storage.lease_ms`), how much they spare the store:
//   tollgate_counter_leases                      leases held now;
//   tollgate_counter_leases_granted_total        leases the store granted;
//   tollgate_counter_lease_admissions_total      requests admitted against a lease, with no round trip.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LimitSpec, Policy } from '../config/policy.js';
import type { CounterStore, LeaseStats, LimitStoreSetting, StoreMode } from '../limits/counter-store.js';
import { failsOpen } from '../limits/store-outage.js';

export const STORE_MODES: readonly StoreMode[] = ['ok', 'fail_open', 'fail_closed'];

/** Every configured limit with its own `on_store_error`, by the ids limits carry elsewhere (`tier:<t>:<name>` for per-user tier limits). */
export function limitStoreSettings(policy: Policy): LimitStoreSetting[] {
  const owners: Array<[string, Map<string, { limits: LimitSpec[] }>]> = [
    ['org', policy.organizations],
    ['project', policy.projects],
    ['tier', policy.tiers],
    ['group', policy.groups],
    ['route', policy.routes],
  ];
  const out: LimitStoreSetting[] = [];
  for (const [owner, byName] of owners) {
    for (const [name, { limits }] of byName) {
      for (const l of limits) out.push({ id: `${owner}:${name}:${l.name}`, mode: l.mode, ...(l.onStoreError ? { onStoreError: l.onStoreError } : {}) });
    }
  }
  return out;
}

/** The mode a limit is in now: shadow limits never refuse, so they count locally like `fail_open` ones. */
function limitMode(store: CounterStore, setting: LimitStoreSetting, defaultMode: Policy['storage']['onStoreError']): StoreMode {
  if (!store.modeFor) return 'ok';
  return store.modeFor(failsOpen(setting.mode, setting.onStoreError, defaultMode) ? 'fail_open' : 'fail_closed');
}

/** Registers both gauges on `registry`; values are set on every mode change and refreshed at each scrape. */
export function registerStoreModeMetrics(registry: Registry, store: CounterStore, policy: () => Policy): void {
  const mode = new Gauge({
    name: 'tollgate_counter_store_mode',
    help: 'On_store_error mode in force for limits that follow storage.on_store_error: 1 for the current mode (ok: the counter store answers), 0 for the others.',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      setMode(store.mode ?? 'ok');
    },
  });
  const setMode = (current: StoreMode): void => {
    for (const m of STORE_MODES) mode.set({ mode: m }, m === current ? 1 : 0);
  };
  setMode(store.mode ?? 'ok');
  store.onModeChange?.(setMode);

  new Gauge({
    name: 'tollgate_counter_store_limits',
    help: 'Configured limits in each on_store_error mode now (ok: counted in the shared store; fail_open: counted locally; fail_closed: requests needing them get 503), per-limit overrides included.',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      const p = policy();
      const counts: Record<string, number> = { ok: 0, fail_open: 0, fail_closed: 0 };
      for (const s of limitStoreSettings(p)) counts[limitMode(store, s, p.storage.onStoreError)]++;
      for (const m of STORE_MODES) this.set({ mode: m }, counts[m]);
    },
  });
  if (store.leaseStats) registerLeaseMetrics(registry, store.leaseStats.bind(store));
}

function registerLeaseMetrics(registry: Registry, stats: () => LeaseStats): void {
  const registers = [registry];
  new Gauge({ name: 'tollgate_counter_leases', help: 'Budget leases held now (storage.lease_ms).', registers, collect() { this.set(stats().open); } });
  // The store keeps the totals; each scrape copies them into counters (they only grow).
  new Counter({ name: 'tollgate_counter_leases_granted_total', help: 'Budget leases the counter store granted since start.', registers, collect() { this.reset(); this.inc(stats().granted); } });
  new Counter({
    name: 'tollgate_counter_lease_admissions_total',
    help: 'Requests admitted against a budget lease, without a round trip to the counter store, since start.',
    registers,
    collect() {
      this.reset();
      this.inc(stats().localAdmissions);
    },
  });
}

/**
 * Wires the counter store to the gateway's metrics and logs: the outage log line names the limits that
 * fail open and closed (from the policy in force), and `registry` (when metrics are on) gets the gauges.
 */
export function wireStoreMode(store: CounterStore, registry: Registry | undefined, policy: () => Policy): void {
  store.describeLimits?.(() => limitStoreSettings(policy()));
  if (registry) registerStoreModeMetrics(registry, store, policy);
}
