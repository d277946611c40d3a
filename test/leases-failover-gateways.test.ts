// Budget leases through Redis FAILOVERS, in real gateway processes (the FLUSHALL case:
// leases-flush-gateways.test.ts). Two gateways with `lease_ms` share the counters and a strict PostgreSQL
// ledger (each row committed before its answer). Six client loops spend a project's daily limit through
// both while both hold slices of it; once ~60% is spent the primary holding its counters fails over:
// - behind Redis Sentinel (every instance sees another primary and rebuilds every counter after waiting
//   lease_ms): a graceful SENTINEL FAILOVER, and the primary SIGKILLed;
// - on a Redis Cluster (the reservation script answers TGFAILOVER): a graceful CLUSTER FAILOVER, and a
//   TAKEOVER by a replica cut off from its master for the last sixth of the limit spent (those writes lost).
// The loops go on until the limit refuses on the new primary. Checked: the tokens admitted (the usage of
// the 200s, and the ledger's sum) never pass the limit; every answer is a 200, a 429 or (during the switch)
// a 503 store_unavailable / counters_not_rebuilt; the slowest answer stays within the Redis timeout, the
// rebuild wait and lease_ms; the new primary serves; the counter ends at or above the settled usage.
// Measured (12-05, 2-core VM): overshoot 0 and drift 0 in every run; the slowest answer ~1.0 s (2.0 s with
// the primary killed: its promotion takes ~2.3 s). Before a settlement arriving while a failover's rebuild
// waits out the leases was told its record may be gone with it, it removed the presence key, the next
// reservation rebuilt and waited lease_ms again: ~2.05 s (test/leases-loss-races.test.ts has that case).
// A timed test (vitest.config.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import postgres from 'postgres';
import { TABLE } from '../src/ledger/ledger-sql.js';
import { startFleet, type Fleet, type CallSample } from './helpers/redis-fleet.js';
import { ask, MASTER_NAME, startSentinelSetup, type SentinelSetup } from './helpers/redis-sentinel.js';
import { cutOffReplica, startReplicatedCluster, type ReplicatedCluster } from './helpers/redis-cluster-replicas.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { readCounter } from './helpers/redis-counters.js';
import { until } from './helpers/until.js';

const LIMIT = 10_000;
const LEASE_MS = 1000;
const TIMEOUT_MS = 250;
const REBUILD_WAIT_MS = 2000; // storage.rebuild_wait_ms's default
const LOOPS = 6;
/** Each loop's pause after a 200: ~100 calls/s, so what is left after the failover is spent on the new primary. */
const PACE_MS = 40;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Run {
  samples: CallSample[];
  spent: number;
  failedAt: number;
  promotedAt: number;
  summary: Record<string, unknown>;
}

async function call(url: string, key: string): Promise<CallSample> {
  const sentAt = Date.now();
  try {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: 20, mock_output_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = (await res.json()) as { usage?: { total_tokens: number }; error?: { code?: string } };
    return { status: res.status, code: body.error?.code, sentAt, ms: Date.now() - sentAt, tokens: res.status === 200 ? body.usage!.total_tokens : 0 };
  } catch {
    return { status: 0, sentAt, ms: Date.now() - sentAt, tokens: 0 }; // a status no check accepts
  }
}

/**
 * Once the loops stopped and the slices went back: one call at a time, alternating gateways, until three
 * in a row are refused by the limit (429). What is left of the limit is then less than a call: it was not
 * held back for good. A 503 (a rebuild still running after the failover) is no answer from the limit:
 * the drain waits a little and goes on (in CI it stopped on three of them with 146 tokens of room left).
 */
async function drain(fleet: Fleet, key: string, run: Run): Promise<void> {
  let drained = 0;
  for (let i = 0, refusedInARow = 0; refusedInARow < 3 && i < 100; i++) {
    const sample = await call(fleet.urls[i % fleet.urls.length]!, key);
    run.samples.push(sample);
    run.spent += sample.tokens;
    drained += sample.tokens;
    if (sample.status === 200) refusedInARow = 0;
    else if (sample.status === 429) refusedInARow++;
    else await sleep(100);
  }
  Object.assign(run.summary, { spent: run.spent, overshoot: Math.max(0, run.spent - LIMIT), drained });
}

/**
 * Client loops spending `key`'s project through both gateways; `failOver()` runs once ~60% of the limit
 * is spent and resolves once the new primary is in place. The loops stop once every call is refused
 * (429) after that, or after 20 s. Until then they spend no more than 90%: a graceful Sentinel failover
 * takes ~1.1 s while the old primary serves on, which at ~100 calls/s spent 9,856 to 9,991 of the 10,000
 * before the promotion (local, 12-06), so a host a little quicker left nothing to serve on the new primary.
 */
async function spendThroughFailover(fleet: Fleet, key: string, failOver: (samples: CallSample[]) => Promise<void>): Promise<Run> {
  const samples: CallSample[] = [];
  let spent = 0;
  let failedAt = 0;
  let promotedAt = 0;
  let failover: Promise<void> | undefined;
  const deadline = Date.now() + 20_000;
  const loop = async (n: number): Promise<void> => {
    for (let i = n, refusedInARow = 0; refusedInARow < 10 && Date.now() < deadline; i += LOOPS) {
      if (failover && !promotedAt && spent >= 0.9 * LIMIT) {
        await sleep(10); // the rest is for the new primary
        continue;
      }
      const sample = await call(fleet.urls[i % fleet.urls.length]!, key);
      samples.push(sample);
      spent += sample.tokens;
      if (sample.status === 429 && promotedAt && sample.sentAt > promotedAt) refusedInARow++;
      else if (sample.status === 200) refusedInARow = 0;
      await sleep(sample.status === 200 ? PACE_MS : 10);
      if (!failover && spent >= 0.6 * LIMIT) {
        failedAt = Date.now();
        failover = failOver(samples).then(() => void (promotedAt = Date.now()));
      }
    }
  };
  await Promise.all(Array.from({ length: LOOPS }, (_, n) => loop(n)));
  await failover;
  const statuses: Record<string, number> = {};
  for (const s of samples) statuses[s.status === 503 ? `503 ${s.code}` : s.status] = (statuses[s.status === 503 ? `503 ${s.code}` : s.status] ?? 0) + 1;
  const refused = samples.filter((s) => s.status === 503);
  const after = samples.filter((s) => s.sentAt >= failedAt);
  return {
    samples,
    spent,
    failedAt,
    promotedAt,
    summary: {
      spent,
      overshoot: Math.max(0, spent - LIMIT),
      statuses,
      slowest: Math.max(...samples.map((s) => s.ms)),
      slowestAfterFailover: Math.max(0, ...after.map((s) => s.ms)),
      promotedMs: promotedAt - failedAt,
      served503Ms: refused.length ? `${Math.min(...refused.map((s) => s.sentAt)) - failedAt}..${Math.max(...refused.map((s) => s.sentAt + s.ms)) - failedAt}` : '-',
      firstAfterPromotionMs: Math.min(...samples.filter((s) => s.status === 200 && s.sentAt > promotedAt).map((s) => s.sentAt + s.ms)) - promotedAt,
      spentByFailover: samples.filter((s) => s.sentAt < failedAt).reduce((n, s) => n + s.tokens, 0),
      spentByPromotion: samples.filter((s) => s.sentAt <= promotedAt).reduce((n, s) => n + s.tokens, 0),
    },
  };
}

async function ledgerTokens(ledger: LedgerPlace, project: string): Promise<number> {
  const sql = postgres(ledger.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql.unsafe(`SELECT coalesce(sum(input_tokens + output_tokens), 0)::int AS tokens FROM ${TABLE} WHERE project = $1`, [project]);
    return row.tokens as number;
  } finally {
    await sql.end();
  }
}

function checkRun(run: Run, fleet: Fleet): void {
  const { samples, spent, promotedAt } = run;
  expect(run.failedAt).toBeGreaterThan(0);
  expect(promotedAt).toBeGreaterThan(0);
  expect(spent - LIMIT).toBeLessThanOrEqual(0); // overshoot 0
  expect(spent).toBeGreaterThan(LIMIT - 100); // and the limit was really spent (on the new primary), none of it held back for good
  expect(samples.filter((s) => ![200, 429, 503].includes(s.status))).toEqual([]);
  for (const s of samples.filter((x) => x.status === 503)) expect(s.code).toMatch(/^(store_unavailable|counters_not_rebuilt)$/);
  // Only around the switch: none sent well after the new primary was in place and the rebuild done.
  expect(samples.filter((s) => s.status === 503 && s.sentAt > promotedAt + LEASE_MS + REBUILD_WAIT_MS)).toEqual([]);
  // A call waits at most the Redis timeout, then lease_ms and the ledger's sums (bounded by rebuild_wait_ms).
  expect(Math.max(...samples.map((s) => s.ms))).toBeLessThan(TIMEOUT_MS + LEASE_MS + REBUILD_WAIT_MS + 250);
  expect(samples.some((s) => s.status === 200 && s.sentAt > promotedAt)).toBe(true);
  for (const g of fleet.gateways) {
    expect(g.child.exitCode).toBeNull();
    expect(g.output()).not.toMatch(/Unhandled error event/);
  }
}

const configFor = (counters: string, ledger: LedgerPlace, projects: Array<{ project: string; org?: string }>) => (mockUrl: string): string => `
storage: {counters: "${counters}", ledger: "${ledger.url}", instances: 2, on_store_error: fail_closed, timeout_ms: ${TIMEOUT_MS}, lease_ms: ${LEASE_MS}}
ledger: {durability: strict}
providers: {up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}}
${projects.some((p) => p.org) ? `organizations: {${projects.map((p) => `${p.org}: {}`).join(', ')}}` : ''}
projects: {${projects.map((p) => `${p.project}: {daily_limit: ${LIMIT}}`).join(', ')}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}}
keys: [${projects.map((p) => `{id: k${p.project}, key: tg-${p.project}${p.org ? `, organization: ${p.org}` : ''}, project: ${p.project}}`).join(', ')}]
`;

describe('gateways with budget leases behind Redis Sentinel, the primary failed over under load', () => {
  let setup: SentinelSetup;
  let ledger: LedgerPlace;
  let fleet: Fleet;

  beforeAll(async () => {
    [setup, ledger] = await Promise.all([startSentinelSetup(), postgresPlace()]);
    fleet = await startFleet(2, configFor(setup.url, ledger, [{ project: 'graceful' }, { project: 'killed' }]), { TOLLGATE_LOG_LEVEL: 'info' });
  }, 30_000);
  afterAll(async () => {
    await fleet?.stop();
    await setup?.stop();
    await ledger?.drop();
  });

  it.each(['graceful', 'killed'] as const)('%s: no overshoot, answers bounded, served on the new primary', async (how) => {
    const oldPort = await setup.primaryPort();
    const run = await spendThroughFailover(fleet, `tg-${how}`, async () => {
      if (how === 'graceful') expect(await ask(setup.sentinelPorts[0]!, 'SENTINEL', 'FAILOVER', MASTER_NAME)).toBe('OK');
      else await setup.nodes.find((n) => n.port === oldPort)!.kill();
      await setup.waitForFailover(oldPort);
    });
    const counter = `tg:{default}:project:${how}:daily:fixed_window`;
    // Read on the primary the sentinels name: a client that was on the old one may still be there (after a
    // graceful failover the old primary stays a primary of its own for seconds, until the sentinels demote it).
    const primary = await setup.primaryPort();
    const read = async (): Promise<number> => Number(await ask(primary, 'HGET', counter, 'u'));
    await until(async () => (await read()) <= run.spent, LEASE_MS + 2000).catch(() => {}); // the slices go back
    await drain(fleet, `tg-${how}`, run);
    const counted = await read();
    const ledgered = await ledgerTokens(ledger, how);
    const rebuilds = fleet.gateways.map((g) => (g.output().match(/rebuilding them from the ledger/g) ?? []).length);
    console.log(`leases, sentinel failover (${how}): ${JSON.stringify({ ...run.summary, ledger: ledgered, counter: counted, drift: counted - run.spent, rebuilds })}`);
    checkRun(run, fleet);
    expect(ledgered).toBe(run.spent);
    expect(counted).toBeGreaterThanOrEqual(run.spent);
    expect(counted).toBeLessThanOrEqual(run.spent + LOOPS * 50); // nothing counted twice for good (slices back)
  }, 30_000);
});

describe('gateways with budget leases on a Redis Cluster, the master failed over under load', () => {
  let cluster: ReplicatedCluster;
  let ledger: LedgerPlace;
  let fleet: Fleet;
  const ORG = { graceful: 'acme', lagging: 'initech' };

  beforeAll(async () => {
    [cluster, ledger] = await Promise.all([startReplicatedCluster(), postgresPlace()]);
    fleet = await startFleet(2, configFor(cluster.url, ledger, [{ project: 'graceful', org: ORG.graceful }, { project: 'lagging', org: ORG.lagging }]), { TOLLGATE_LOG_LEVEL: 'info' });
  }, 30_000);
  afterAll(async () => {
    await fleet?.stop();
    await cluster?.stop();
    await ledger?.drop();
  });

  it.each(['graceful', 'lagging'] as const)('%s: no overshoot, answers bounded, served on the new primary', async (how) => {
    const org = ORG[how];
    const slot = Number(await cluster.admin[0]!.call('CLUSTER', 'KEYSLOT', `tg:{${org}}`));
    const masterPort = await cluster.ownerOf(slot);
    const replicaPort = await cluster.replicaOf(masterPort);
    let lost = 0;
    const run = await spendThroughFailover(fleet, `tg-${how}`, async (samples) => {
      if (how === 'lagging') {
        // The load while cut off is measured in tokens, not time (as in redis-cluster-failover.test.ts): 700 ms
        // of it spent 2,240 to 2,492 tokens here, and at twice the pace all that was left before the takeover.
        const cutAt = await cutOffReplica(cluster, masterPort, replicaPort);
        const spentSince = (): number => samples.filter((s) => s.sentAt >= cutAt).reduce((n, s) => n + s.tokens, 0);
        await until(() => spentSince() >= LIMIT / 6, 5000);
        lost = spentSince();
        expect(await cluster.adminOf(replicaPort).call('CLUSTER', 'FAILOVER', 'TAKEOVER')).toBe('OK');
      } else {
        expect(await cluster.adminOf(replicaPort).call('CLUSTER', 'FAILOVER')).toBe('OK');
      }
      await cluster.waitOwner(slot, replicaPort, 15_000);
      if (how === 'lagging') await cluster.adminOf(replicaPort).call('CONFIG', 'SET', 'masterauth', '');
    });
    const client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
    client.on('error', () => {});
    try {
      const counter = `tg:{${org}}:project:${how}:daily:fixed_window`;
      await until(async () => (await readCounter(client, counter)) <= run.spent, LEASE_MS + 2000).catch(() => {}); // the slices go back
      await drain(fleet, `tg-${how}`, run);
      const counted = await readCounter(client, counter);
      const ledgered = await ledgerTokens(ledger, how);
      const rebuilds = fleet.gateways.map((g) => (g.output().match(/rebuilding them from the ledger/g) ?? []).length);
      console.log(`leases, cluster failover (${how}): ${JSON.stringify({ ...run.summary, lost, ledger: ledgered, counter: counted, drift: counted - run.spent, rebuilds })}`);
      checkRun(run, fleet);
      expect(ledgered).toBe(run.spent);
      expect(counted).toBeGreaterThanOrEqual(run.spent);
      expect(counted).toBeLessThanOrEqual(run.spent + LOOPS * 50); // nothing counted twice for good (slices back)
      if (how === 'lagging') expect(lost).toBeGreaterThan(0); // writes were lost with the takeover
    } finally {
      client.disconnect();
    }
  }, 30_000);
});
