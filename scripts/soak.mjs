#!/usr/bin/env node
// Chaos soak: 3 gateway processes sharing a private Redis (counters) and a PostgreSQL ledger, in front of
// one mock upstream, driven for N seconds by the official `openai` and `@anthropic-ai/sdk` clients with
// mixed traffic (every endpoint, streamed and not, aborted streams, invalid requests, limits hit), while
// faults are injected: a config reload, a gateway SIGTERMed and restarted, Redis killed and restarted
// empty, the ledger's PostgreSQL connections terminated. Then it checks invariants that no unit test
// sees together and prints PASS/FAIL for each (exit 1 on any FAIL). Not a CI test: see docs/soak.md.
//
//   npx tsc -p tsconfig.build.json --outDir /tmp/soak-root/dist   # a private build (see docs/soak.md)
//   node scripts/soak.mjs --dist /tmp/soak-root/dist [--seconds 120] [--concurrency 12] [--seed N]
//
// Needs redis-server on PATH and PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth): it drops and
// creates the database `tollgate_soak`, and runs its own redis-server on --redis-port (6391).
// With --cluster: the database `tollgate_soak_cluster` and a Redis Cluster on --cluster-port (7391) and up.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { settingsFrom } from './soak/config.mjs';
import { loadDeps } from './soak/deps.mjs';
import { seededRandom } from './soak/random.mjs';
import { createFleet, freshDatabase, startCluster, startFleet, startRedis, stopProcess } from './soak/processes.mjs';
import { driveTraffic, summarize } from './soak/traffic.mjs';
import { createFaultLog, injectFaults } from './soak/faults.mjs';
import { checkAudit, checkErrorsExplained, checkLimits, checkNoHang, checkProcesses, checkRowsPerCall, createVerdicts, ledgerRows } from './soak/checks.mjs';

// The parts live in scripts/soak/: config.mjs (settings, limits, keys, pricing, the YAML), processes.mjs
// (Redis, the cluster, the mock, the gateways, the fleet), traffic.mjs (the SDK calls, the mix, records),
// faults.mjs (fault injection and fault windows), checks.mjs (the invariants). The run's shared state is
// one context object, `ctx`, passed to each of them.

const { values: args } = parseArgs({
  options: {
    dist: { type: 'string', default: 'dist' },
    seconds: { type: 'string', default: '120' },
    concurrency: { type: 'string', default: '12' },
    seed: { type: 'string' },
    'redis-port': { type: 'string', default: '6391' },
    work: { type: 'string', default: '/tmp/soak-run' },
    'lease-ms': { type: 'string', default: '0' },
    // A Redis Cluster of 3 primaries (each with --cluster-replicas replicas) on --cluster-port and up.
    cluster: { type: 'boolean', default: false },
    'cluster-port': { type: 'string', default: '7391' },
    'cluster-replicas': { type: 'string', default: '1' },
  },
});
const cfg = settingsFrom(args);
const { SECONDS, CONCURRENCY, SEED, LEASE_MS, COUNTERS_URL, WORK, CLUSTER, PG_URL } = cfg;

const ctx = {
  cfg,
  deps: await loadDeps(),
  rng: seededRandom(SEED),
  fleet: createFleet(),
  faults: createFaultLog(),
  checks: createVerdicts(),
};

async function main() {
  const { fleet, faults, checks } = ctx;
  mkdirSync(WORK, { recursive: true });
  const msToMidnight = 86_400_000 - (Date.now() % 86_400_000);
  if (msToMidnight < (SECONDS + 120) * 1000) throw new Error('too close to midnight UTC: the daily windows would roll over mid-run');
  console.log(`soak: ${SECONDS} s, ${CONCURRENCY} client loops, seed ${SEED}, lease_ms ${LEASE_MS}, counters ${COUNTERS_URL}, logs in ${WORK}`);
  await freshDatabase(ctx);
  if (CLUSTER) await startCluster(ctx);
  else fleet.redis = await startRedis(cfg);
  await startFleet(ctx);
  const allGatewayRuns = [...fleet.gateways];

  const records = [];
  faults.startedAt = Date.now();
  const traffic = driveTraffic(ctx, faults.startedAt + SECONDS * 1000, records);
  const faultsDone = injectFaults(ctx, SECONDS).catch((err) => checks.verdict('faults injected', false, String(err?.stack ?? err)));
  // Gateways started by a restart are watched too.
  const watch = setInterval(() => fleet.gateways.forEach((g) => allGatewayRuns.includes(g) || allGatewayRuns.push(g)), 200);
  await Promise.all([traffic, faultsDone]);
  clearInterval(watch);
  fleet.gateways.forEach((g) => allGatewayRuns.includes(g) || allGatewayRuns.push(g));
  summarize(records, SECONDS);

  // Quiesce: every call has finished; give the writers a few flush intervals.
  await sleep(2000);
  await checkAudit(ctx, faults.list.some((f) => f.what.startsWith('redis')));

  for (let i = 0; i < fleet.gateways.length; i++) fleet.exits.push({ gateway: i, phase: 'final', ...(await stopProcess(fleet.gateways[i])) });
  await stopProcess(fleet.mock);

  const sql = ctx.deps.postgres(PG_URL, { max: 1, onnotice: () => {} });
  let rows;
  try {
    rows = await ledgerRows(sql);
  } finally {
    await sql.end();
  }
  checkRowsPerCall(ctx, records, rows);
  checkLimits(ctx, rows);
  checkProcesses(ctx, allGatewayRuns);
  checkErrorsExplained(ctx, records);
  checkNoHang(ctx, records);
  if (CLUSTER) for (const node of fleet.redisNodes.values()) await stopProcess(node);
  else await stopProcess(fleet.redis);

  const failed = checks.results.filter((r) => !r.ok);
  console.log(`\nfaults: ${faults.list.map((f) => `@${f.atS}s ${f.what}`).join('; ')}`);
  console.log(`ledger rows: ${rows.length}; 2xx calls: ${records.filter((r) => r.status >= 200 && r.status < 300).length}`);
  console.log(failed.length ? `SOAK FAILED: ${failed.length} invariant(s)` : 'SOAK PASSED');
  writeFileSync(path.join(WORK, 'records.json'), JSON.stringify(records));
  process.exitCode = failed.length ? 1 : 0;
}

await main();
