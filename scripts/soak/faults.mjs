// Faults, at fixed fractions of the run; each is logged with when it happened.
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ORG_TAG, PG_ADMIN_URL, configYaml } from './config.mjs';
import { startClusterNode, startGateway, startRedis, stopProcess, waitClusterOk } from './processes.mjs';

/**
 * The run's fault log: `list` of {atS, what}, and `windows`, when client errors are expected: {from, to}
 * (ms), for every gateway or one (its URL). A few seconds after Redis is back cover the rebuild from the
 * ledger (storage.rebuild_wait_ms, 2 s). `startedAt` is set when traffic starts.
 */
export function createFaultLog() {
  const log = {
    list: [],
    windows: [],
    startedAt: 0,
    note(what) {
      log.list.push({ atS: Math.round((Date.now() - log.startedAt) / 100) / 10, what });
      console.log(`  fault @${log.list[log.list.length - 1].atS}s: ${what}`);
    },
  };
  return log;
}

/** Gateway 0's config gets a raised project limit: only it reloads (the others keep the old one). */
async function reloadOneGateway({ cfg, fleet, faults }) {
  const { LIMITS } = cfg;
  writeFileSync(fleet.configFiles[0], configYaml(cfg, fleet.mockUrl, LIMITS.projectWebReloaded));
  faults.note(`config of gateway 0 rewritten (project web ${LIMITS.projectDaily.web} -> ${LIMITS.projectWebReloaded})`);
}

/** SIGTERM one gateway (taken out of rotation first, as a load balancer would), then start it again. */
async function restartGateway({ cfg, fleet, faults }, i) {
  fleet.up[i] = false;
  const window = { from: Date.now(), to: Infinity, gateway: fleet.gateways[i].url };
  faults.windows.push(window);
  await sleep(200); // calls already picked this gateway: let them reach it before it closes its listener
  const exit = await stopProcess(fleet.gateways[i]);
  fleet.exits.push({ gateway: i, phase: 'restart', ...exit });
  faults.note(`gateway ${i} SIGTERMed (exit ${JSON.stringify(exit)}), restarting`);
  fleet.gateways[i] = await startGateway(cfg, i, fleet.configFiles[i]);
  window.to = Date.now();
  fleet.up[i] = true;
  faults.note(`gateway ${i} back at ${fleet.gateways[i].url}`);
}

/** Kill Redis (no persistence: every counter is lost), leave it down a few seconds, start it again. */
async function restartRedis({ cfg, fleet, faults }, downMs) {
  const window = { from: Date.now(), to: Infinity };
  faults.windows.push(window);
  fleet.redis.child.kill('SIGKILL');
  await fleet.redis.exited;
  faults.note(`redis SIGKILLed, down for ${downMs} ms`);
  await sleep(downMs);
  fleet.redis = await startRedis(cfg);
  window.to = Date.now() + 3000;
  faults.note('redis started again, empty');
}

/**
 * SIGKILL the primary that holds the organization's counters. With replicas, one is promoted (what it had
 * not yet replicated is lost) and the old primary, restarted after `downMs`, rejoins as its replica; without,
 * the primary is restarted empty after `downMs` and serves its slots again.
 */
async function failOverCluster(ctx, downMs) {
  const { cfg, fleet, faults } = ctx;
  const window = { from: Date.now(), to: Infinity };
  faults.windows.push(window);
  const victim = await waitClusterOk(ctx, fleet.orgSlot);
  const node = fleet.redisNodes.get(victim);
  node.child.kill('SIGKILL');
  await node.exited;
  faults.note(`redis primary ${victim} (slot ${fleet.orgSlot} of ${ORG_TAG}) SIGKILLed${cfg.CLUSTER_REPLICAS ? ', waiting for a replica to be promoted' : `, down for ${downMs} ms`}`);
  if (cfg.CLUSTER_REPLICAS) {
    const promoted = await waitClusterOk(ctx, fleet.orgSlot, victim);
    faults.note(`redis replica ${promoted} promoted`);
    await sleep(downMs);
    fleet.redisNodes.set(victim, await startClusterNode(cfg, victim));
    await waitClusterOk(ctx, fleet.orgSlot, victim);
    faults.note(`redis node ${victim} started again (empty), a replica now`);
  } else {
    await sleep(downMs);
    fleet.redisNodes.set(victim, await startClusterNode(cfg, victim));
    await waitClusterOk(ctx, fleet.orgSlot);
    faults.note(`redis primary ${victim} started again, empty`);
  }
  window.to = Date.now() + 3000;
}

async function killLedgerConnections({ cfg, deps, faults }) {
  const admin = deps.postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    const killed = await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${cfg.PG_DATABASE}' AND pid <> pg_backend_pid()`);
    faults.note(`${killed.length} ledger connections terminated`);
  } finally {
    await admin.end();
  }
}

async function sighupGateway({ fleet, faults }, i) {
  fleet.gateways[i].child.kill('SIGHUP');
  faults.note(`gateway ${i} SIGHUP (reload, config unchanged)`);
}

export async function injectFaults(ctx, seconds) {
  const at = async (fraction, fault) => {
    const wait = ctx.faults.startedAt + fraction * seconds * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    await fault();
  };
  await at(0.15, () => reloadOneGateway(ctx));
  await at(0.3, () => restartGateway(ctx, 1));
  await at(0.45, () => (ctx.cfg.CLUSTER ? failOverCluster(ctx, 3000) : restartRedis(ctx, 3000)));
  await at(0.6, () => killLedgerConnections(ctx));
  await at(0.7, () => sighupGateway(ctx, 2));
  await at(0.8, () => restartGateway(ctx, 2));
  await at(0.9, () => killLedgerConnections(ctx));
}
