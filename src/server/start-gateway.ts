// Starts a gateway process: load config, build the counter store and server, listen, and handle signals.
import pino from 'pino';
import { loadPolicy, ConfigError } from '../config/index.js';
import { loadPolicyForReload } from '../config/load-for-reload.js';
import { formatIssue } from '../config/config-error.js';
import type { Policy } from '../config/policy.js';
import { settingsNeedingRestart, withStartSettings } from '../config/restart-settings.js';
import { holdReloadsDuringStart } from './early-reloads.js';
import { listenFailure } from './listen-failure.js';
import { openCounterStore } from '../limits/open-counter-store.js';
import { redactUrl } from '../util/redact-url.js';
import { httpOrigin } from '../util/http-origin.js';
import type { CounterStore } from '../limits/counter-store.js';
import { Gateway } from '../proxy/gateway.js';
import { buildServer } from '../proxy/server.js';
import { systemClock } from '../util/clock.js';
import { preloadTokenizers } from '../tokens/index.js';
import { wireStoreMode } from '../metrics/store-mode-metric.js';
import { startUsageServices } from './usage-services.js';
import { unitChanges } from '../limits/unit-changes.js';
import { collectStartupGarbage } from './gc-tuning.js';
import { stopOnSignals } from './stop-gateway.js';
import { DrainState } from '../proxy/drain-state.js';
import { keyRoutes } from '../admin/key-routes.js';
import { loadKeyRing, withKeysOf } from './managed-keys-at-start.js';

export interface StartOptions {
  configFiles: string[];
  host?: string;
  port?: number;
}

/** Runs `tollgate serve` until SIGTERM/SIGINT; exits non-zero with `file:line:` errors on bad config. */
export async function startGateway(opts: StartOptions): Promise<void> {
  const log = pino({ level: process.env.TOLLGATE_LOG_LEVEL ?? 'info', redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] });
  // Before the first read of the config: a SIGHUP or a save from here on is a reload, never lost or fatal.
  const early = holdReloadsDuringStart(opts.configFiles);
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

  logWarnings(log, policy, 'start');
  // Load tokenizer tables now (100-200 ms each) rather than on the first request.
  preloadTokenizers([...policy.routes.values()].flatMap((r) => r.models.map((m) => m.upstreamModel)));
  const store = await createCounterStore(policy, log);
  let gateway = new Gateway(policy, store, systemClock);
  const usage = await startUsageServices({ policy, store, clock: systemClock, log, currentPolicy: () => gateway.policy }).catch((err: Error) => {
    console.error(err.message);
    return process.exit(1);
  });
  const drain = new DrainState();
  // Keys made through the admin API are kept in the ledger's database and join the config's keys.
  let configPolicy = policy;
  const keyRing = usage.ledger?.keys && (await loadKeyRing(usage.ledger.keys, (why) => reload(why, 'keys'), log, drain));
  if (keyRing && keyRing.keys.length > 0) gateway = new Gateway(withKeysOf(keyRing, configPolicy, log, 'start'), store, systemClock, gateway.providers);
  usage.attach(gateway);
  // The store-mode gauges join the other metrics; the store's outage log names the limits that fail open / closed.
  wireStoreMode(store, usage.metrics?.registry, () => gateway.policy);
  usage.routes.push(keyRoutes({ policy: () => gateway.policy, keys: keyRing && { table: usage.ledger!.keys!, config: () => configPolicy, apply: () => keyRing.refresh(), now: () => systemClock.now() } }));
  const app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes, logger: log, routes: usage.routes, onRejected: usage.onRejected, drain });

  // Reload keeps the counter store, so no counter is lost; a bad new config keeps the old one running.
  // Settings used once at start keep the values the process started with, whatever later files say.
  const overridden = { host: opts.host !== undefined, port: opts.port !== undefined };
  // A limit whose algorithm or window changed is counted under a new key (or in a new window), empty:
  // it starts from the ledger, as at start-up, before the new config admits anything.
  const rebuildFor = async (next: Policy, why: string, when: string): Promise<void> => {
    await usage.rebuildFor(next).catch((err: Error) =>
      log.error({ why, error: err.message }, `could not rebuild the counters from the ledger ${when}: a limit whose algorithm or window changed counts from zero`),
    );
  };
  // Old gateways still finishing the calls they admitted: a stop waits for their rows as for the current one's.
  const retiring = new Set<Promise<void>>();
  /** `files`: the config files read again (SIGHUP, a save); `keys`: the same configuration with the managed keys now in the table. */
  const reloadNow = async (why: string, source: 'files' | 'keys'): Promise<void> => {
    // A stop in progress waits for the calls of the gateway it found and then closes the ledger: a new
    // gateway now would leave those calls to record into a closed ledger, for a config that serves nothing.
    if (drain.draining) return log.info({ why }, 'configuration reload ignored: the gateway is stopping');
    let next: Policy;
    if (source === 'keys') next = configPolicy;
    else {
      try {
        // A large config in a worker thread: its seconds of parsing would stall every call in flight.
        next = await loadPolicyForReload(opts.configFiles);
      } catch (err) {
        log.error({ why, error: (err as Error).message }, 'configuration reload failed; keeping the previous configuration');
        return;
      }
      logWarnings(log, next, why);
      configPolicy = next;
    }
    if (keyRing) next = withKeysOf(keyRing, next, log, why);
    const restart = settingsNeedingRestart(policy, next, overridden);
    next = withStartSettings(gateway.policy, next);
    const unitChanged = unitChanges(gateway.policy, next);
    if (unitChanged.length > 0) {
      log.warn(
        { why, limits: unitChanged },
        `limits that now count in another unit keep their counters, whose figure in the old unit is read in the new one until the window ends (read high, it refuses calls early; read low, the rebuild raises it to the ledger's figure): ${unitChanged.join(', ')}; changing such a limit's algorithm too gives it a new counter, rebuilt from the ledger in its new unit`,
      );
    }
    // Waited for, but not for ever: until the new config applies, a key it removes is still admitted and a
    // limit it lowers still allows the old amount. A slow or locked ledger (seconds per million rows, a
    // migration's lock) would hold them back as long; past the wait the rebuild goes on, and raises the
    // counters of changed limits when it ends (it only ever raises them).
    const rebuilt = rebuildFor(next, why, 'for the reloaded configuration');
    const waitMs = policy.storage.rebuildWaitMs;
    if (!(await settledWithin(rebuilt, waitMs))) {
      log.warn({ why, waitMs }, `the counter rebuild for the reloaded configuration is still running after ${waitMs} ms (storage.rebuild_wait_ms; the ledger is slow): applying the configuration now; a limit whose algorithm or window changed counts from what it holds until the rebuild ends`);
    }
    if (drain.draining) return log.info({ why }, 'configuration reload ignored: the gateway is stopping');
    const old = gateway;
    gateway = new Gateway(next, store, systemClock, undefined, old.storedContext, old.background);
    usage.attach(gateway);
    // The old config's calls still under way are charged to the counts the new one made as they end.
    usage.carryAfterReload(old, rebuilt);
    const retired = old.retire();
    retiring.add(retired);
    void retired.then(() => {
      retiring.delete(retired);
      // Calls the old config admitted and that ended since are in the ledger only now (unless it is closing).
      if (!drain.draining) return rebuildFor(gateway.policy, why, 'after the reload');
    });
    if (source === 'keys') log.info({ why, keys: gateway.policy.keys.filter((k) => k.managed).length }, 'managed keys applied');
    else if (restart.length === 0) log.info({ why }, 'configuration reloaded');
    else log.warn({ why, restart }, `configuration reloaded, except settings read only at start, which need a restart: ${restart.join(', ')}`);
  };
  // One reload at a time, in the order asked for.
  let reloading = Promise.resolve();
  const reload = (why: string, source: 'files' | 'keys' = 'files'): Promise<void> => {
    // A failure is this reload's alone: the chain must go on for the next one.
    reloading = reloading
      .then(() => reloadNow(why, source))
      .catch((err: Error) => log.error({ why, error: err.message }, 'configuration reload failed; keeping the previous configuration'));
    return reloading;
  };
  early.handOver(reload);

  const host = opts.host ?? policy.server.host;
  const port = opts.port ?? policy.server.port;
  // The ledger is the source of truth: a counter store that starts empty must not hand out a fresh budget.
  // A shared store that still holds every organization's counters (a gateway restarting, not a lost
  // Redis) is only raised to the ledger's figures, in case it went back in time while no gateway ran:
  // that goes on while the gateway serves, rather than hold up a restart for the month's sums (seconds per
  // million rows).
  const organizations = [...new Set(gateway.policy.keys.map((k) => k.organization))];
  if (await store.holdsCounters?.(organizations)) void usage.rebuildLogged();
  else {
    const notRebuilt = await usage.rebuildLogged(true);
    // Memory counters start empty: serving without the ledger's figures handed every spent budget out
    // again (a statement timeout, a connection cut while the sums were read).
    if (notRebuilt && policy.storage.counters === 'memory') {
      console.error(
        `storage.ledger: could not rebuild the counters from ${redactUrl(policy.storage.ledger)}: ${notRebuilt.message} (memory counters are rebuilt from the ledger at start, so the gateway cannot start without it: it would hand out every budget afresh)`,
      );
      return process.exit(1);
    }
  }
  // A shared store can lose the counters while the gateway runs (FLUSHALL, a Redis restarted without
  // persistence): they are then rebuilt from the ledger before anything more is admitted.
  await store.rebuildWhenLost?.(organizations, () => usage.rebuildLost());
  // Start-up's garbage goes before the first request's transient costs can add to it (gc-tuning.ts).
  collectStartupGarbage();
  await app.listen({ host, port }).catch((err: unknown) => {
    const message = listenFailure(err, host, port);
    if (message === undefined) throw err;
    console.error(`tollgate: ${message}`);
    // The counter store, ledger and file watchers are open: exit rather than wait for them.
    return process.exit(1);
  });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  // Before the line that says the gateway is ready: a SIGTERM sent as soon as it is seen must drain, not kill.
  keyRing?.start(policy.storage.keyRefreshMs);
  stopOnSignals({ app, drain, gateway: () => gateway, retiring: () => [...retiring], usage, store, log });
  console.log(`tollgate listening on ${httpOrigin(host, actualPort)}`);
}

/** Whether `work` settled within `ms` (it goes on either way). */
async function settledWithin(work: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([work.then(() => true), late]);
  clearTimeout(timer);
  return settled;
}

/**
 * The counter store `storage.counters` names; Redis connects in the background and never stops the start.
 * A URL the client cannot use at all ends the start with one line: the client's own error (a stack,
 * and for some errors the URL with its password) never reaches the terminal.
 */
async function createCounterStore(policy: Policy, log: pino.Logger): Promise<CounterStore> {
  try {
    return await openCounterStore(policy, log);
  } catch (err) {
    console.error(`storage.counters: cannot use ${redactUrl(policy.storage.counters)}: ${(err as Error).message}`);
    return process.exit(1);
  }
}

/** One log line per config warning (config-warnings.ts): valid settings that are probably not meant. */
function logWarnings(log: pino.Logger, policy: Policy, why: string): void {
  for (const w of policy.warnings) log.warn({ why, file: w.file, line: w.line, path: w.path }, `config warning: ${formatIssue(w)}`);
}
