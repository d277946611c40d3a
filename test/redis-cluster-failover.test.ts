// A Redis Cluster with replicas (3 masters, 3 replicas, real processes) whose node holding an
// organization's slot fails over. Replication is asynchronous: a replica promoted before it had the
// latest writes takes the cluster back in time for that slot. Checked on the store: counters the
// promoted replica lacks are noticed and rebuilt from the ledger before anything more is admitted,
// whether this instance made the lost writes or another one did (as behind Sentinel,
// test/redis-sentinel.test.ts). And on two gateway processes under load: a graceful CLUSTER FAILOVER
// overshoots nothing, answers every request within the timeout, and service resumes on the new primary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import type { CounterItem } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { systemClock } from '../src/util/clock.js';
import { cutOffReplica, startReplicatedCluster, type ReplicatedCluster } from './helpers/redis-cluster-replicas.js';
import { startFleet, type Fleet, type CallSample } from './helpers/redis-fleet.js';
import { admitUntilRefused, readCounter } from './helpers/redis-counters.js';
import { until } from './helpers/until.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';

const TIMEOUT_MS = 250;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let cluster: ReplicatedCluster;
const stores: RedisCounterStore[] = [];

beforeAll(async () => {
  cluster = await startReplicatedCluster();
}, 30_000);
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close().catch(() => {})));
  await cluster?.stop();
});

async function clusterStore(): Promise<RedisCounterStore> {
  const client = createRedisClient(cluster.url, TIMEOUT_MS);
  if (!(await waitReady(client, 5000))) throw new Error('cluster not ready');
  const store = new RedisCounterStore(client, { timezone: 'UTC', clock: systemClock, reservationTtlMs: 60_000, callTimeoutMs: 4 * TIMEOUT_MS });
  stores.push(store);
  return store;
}

function daily(org: string, max: number): CounterItem {
  return { key: `tg:{${org}}:daily:fixed_window`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
}
const uniqueOrg = (): string => `c${Math.random().toString(36).slice(2, 10)}`;
let seq = 0;
const id = (): string => `f${seq++}`;

/**
 * The master holding `org`'s slot and its replica, with replication between them cut and kept cut
 * (the replica cannot log in again: the master has no password), once the replica has `org`'s marker.
 */
async function laggingReplica(org: string): Promise<{ slot: number; masterPort: number; replicaPort: number }> {
  const slot = Number(await cluster.admin[0]!.call('CLUSTER', 'KEYSLOT', `tg:{${org}}`));
  const masterPort = await cluster.ownerOf(slot);
  const replicaPort = await cluster.replicaOf(masterPort);
  const replica = cluster.adminOf(replicaPort);
  await until(async () => (await replica.call('EXISTS', `tg:{${org}}:present`)) === 1, 3000);
  await cutOffReplica(cluster, masterPort, replicaPort);
  return { slot, masterPort, replicaPort };
}

/** Promotes the lagging replica without its master's agreement, and waits until every node agrees. */
async function takeOver(slot: number, replicaPort: number): Promise<void> {
  const replica = cluster.adminOf(replicaPort);
  expect(await replica.call('CLUSTER', 'FAILOVER', 'TAKEOVER')).toBe('OK');
  await cluster.waitOwner(slot, replicaPort);
  await replica.call('CONFIG', 'SET', 'masterauth', ''); // it is a master now
}

/** Waits until the old master follows the new one and has synced (the next test may fail its slot over again). */
async function resynced(masterPort: number): Promise<void> {
  await until(async () => String(await cluster.adminOf(masterPort).call('INFO', 'replication')).includes('master_link_status:up'), 15_000);
}

describe('a failover to a replica that was behind', () => {
  // The instance that made the lost writes sees the reservation count go back (lost-counters.ts).
  it('lost writes of this instance: rebuilt from the ledger before more is admitted', async () => {
    const org = uniqueOrg();
    const limit = daily(org, 100);
    const store = await clusterStore();
    let ledgerUsed = 0;
    let rebuilds = 0;
    await store.rebuildWhenLost([org], async () => {
      rebuilds++;
      await store.restore([{ item: limit, used: ledgerUsed }]);
    });
    const { slot, masterPort, replicaPort } = await laggingReplica(org);
    const q = id();
    expect((await store.reserve({ id: q, items: [limit], input: 60, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    await store.settle(q, { input: 60, output: 0, request: 1 });
    ledgerUsed = 60;
    expect(await cluster.adminOf(replicaPort).call('EXISTS', limit.key)).toBe(0); // the replica never got it

    await takeOver(slot, replicaPort);
    const admitted = await admitUntilRefused(store, limit, 10);
    await resynced(masterPort);
    console.log(`cluster takeover, lost writes of this instance: admitted ${ledgerUsed + admitted} of a limit of 100 (rebuilds: ${rebuilds})`);
    expect(ledgerUsed + admitted).toBeLessThanOrEqual(100);
    expect(admitted).toBe(40);
    expect(rebuilds).toBe(1);
  }, 20_000);

  // Another instance made the lost writes: this one's own count shows nothing missing. Behind Sentinel
  // the client sees the failover itself and rebuilds every counter once; on a cluster it must too.
  it("lost writes of another instance: rebuilt from the ledger before this instance admits more", async () => {
    const org = uniqueOrg();
    const limit = daily(org, 100);
    const [writer, other] = [await clusterStore(), await clusterStore()];
    let ledgerUsed = 0;
    const rebuilds = [0, 0];
    await writer.rebuildWhenLost([org], async () => {
      rebuilds[0]++;
      await writer.restore([{ item: limit, used: ledgerUsed }]);
    });
    await other.rebuildWhenLost([org], async () => {
      rebuilds[1]++;
      await other.restore([{ item: limit, used: ledgerUsed }]);
    });
    // `other` has counted on this organization before (it has seen its reservation count).
    const first = id();
    expect((await other.reserve({ id: first, items: [limit], input: 1, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    await other.settle(first, { input: 1, output: 0, request: 1 });
    ledgerUsed = 1;
    const { slot, masterPort, replicaPort } = await laggingReplica(org);
    const q = id();
    expect((await writer.reserve({ id: q, items: [limit], input: 60, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    await writer.settle(q, { input: 60, output: 0, request: 1 });
    ledgerUsed = 61;
    expect(await cluster.adminOf(replicaPort).call('EXISTS', limit.key)).toBe(1);
    expect(await readCounter(cluster.adminOf(replicaPort), limit.key)).toBe(1); // the replica never got the 60

    await takeOver(slot, replicaPort);
    const admitted = await admitUntilRefused(other, limit, 10);
    await resynced(masterPort);
    console.log(`cluster takeover, lost writes of another instance: admitted ${ledgerUsed + admitted} of a limit of 100 (rebuilds: ${rebuilds.join(', ')})`);
    expect(ledgerUsed + admitted).toBeLessThanOrEqual(100); // overshoot 0
    expect(admitted).toBe(30);
    expect(rebuilds[1]).toBe(1);
  }, 20_000);

  // Nor does an instance that has not reserved for the organization since it started remember a node to
  // compare: the id of the node that last admitted one, kept in Redis and replicated, tells it.
  it('lost writes of another instance, seen by an instance that never reserved for the organization: rebuilt before it admits', async () => {
    const org = uniqueOrg();
    const limit = daily(org, 100);
    const writer = await clusterStore();
    let ledgerUsed = 0;
    await writer.rebuildWhenLost([org], async () => {
      await writer.restore([{ item: limit, used: ledgerUsed }]);
    });
    const first = id();
    expect((await writer.reserve({ id: first, items: [limit], input: 1, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    await writer.settle(first, { input: 1, output: 0, request: 1 });
    ledgerUsed = 1;
    const { slot, masterPort, replicaPort } = await laggingReplica(org);
    expect(await cluster.adminOf(replicaPort).call('GET', `tg:{${org}}:primary`)).toMatch(/^[0-9a-f]{40}$/);
    const q = id();
    expect((await writer.reserve({ id: q, items: [limit], input: 60, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    await writer.settle(q, { input: 60, output: 0, request: 1 });
    ledgerUsed = 61;

    await takeOver(slot, replicaPort);
    // A gateway started after the failover (or one that had served other organizations only).
    const newcomer = await clusterStore();
    let rebuilds = 0;
    await newcomer.rebuildWhenLost([org], async () => {
      rebuilds++;
      await newcomer.restore([{ item: limit, used: ledgerUsed }]);
    });
    const admitted = await admitUntilRefused(newcomer, limit, 10);
    await resynced(masterPort);
    console.log(`cluster takeover, lost writes seen by a newcomer: admitted ${ledgerUsed + admitted} of a limit of 100 (rebuilds: ${rebuilds})`);
    expect(ledgerUsed + admitted).toBeLessThanOrEqual(100); // was 151: 90 more admitted
    expect(admitted).toBe(30);
    expect(rebuilds).toBe(1);
    // The rebuild forgot the old primary, and the next admission noted the new one: no rebuild again.
    expect(await cluster.adminOf(replicaPort).call('GET', `tg:{${org}}:primary`)).toBe(await replicationId(replicaPort));
  }, 20_000);
});

async function replicationId(port: number): Promise<string> {
  const info = String(await cluster.adminOf(port).call('INFO', 'replication'));
  return /master_replid:([0-9a-f]{40})/.exec(info)![1]!;
}

// Two gateway processes (a PostgreSQL ledger) admit one organization's calls against a daily token limit
// while the master holding its slot fails over: gracefully (CLUSTER FAILOVER on its replica: the master
// stops taking writes until the replica has them all), by a crash (SIGKILL, the replica promoted after the
// cluster-node-timeout), or to a replica cut off from it for the last 700 ms of load (CLUSTER FAILOVER
// TAKEOVER: those writes are lost; the ledger commits each row before its answer, so a rebuild restores
// them all). Time bounds: every 503 within the timeout + 250 ms, every answer within + 750 ms.
describe.each(['graceful', 'killed', 'lagging'] as const)('gateways, the master failed over under load (%s)', (how) => {
  const LIMIT = 12_000;
  const LOOPS = 6;
  const ORG = { graceful: 'acme', killed: 'globex', lagging: 'initech' }[how];
  const COUNTER = `tg:{${ORG}}:project:p:daily:fixed_window`;
  let fleet: Fleet;
  let ledger: LedgerPlace;

  beforeAll(async () => {
    ledger = await postgresPlace();
    fleet = await startFleet(2, (mockUrl) => `
storage: {counters: "${cluster.url}", ledger: "${ledger.url}", instances: 2, on_store_error: fail_closed, timeout_ms: ${TIMEOUT_MS}}
ledger: {durability: ${how === 'lagging' ? 'strict' : 'batched'}}
providers: {up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}}
organizations: {${ORG}: {}}
projects: {p: {daily_limit: ${LIMIT}}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}}
keys: [{id: k, key: tg-k, organization: ${ORG}, project: p}]
`, { TOLLGATE_LOG_LEVEL: 'info' });
  }, 30_000);
  afterAll(async () => {
    await fleet?.stop();
    await ledger?.drop();
  });

  it('the limit holds, every request is answered within the timeout, served again on the new primary, counter = settled usage', async () => {
    const slot = Number(await cluster.admin[0]!.call('CLUSTER', 'KEYSLOT', `tg:{${ORG}}`));
    const masterPort = await cluster.ownerOf(slot);
    // A replica demoted by an earlier test's takeover may still be syncing: a graceful failover waits for it.
    const replicaPort = await cluster.replicaOf(masterPort);
    const samples: CallSample[] = [];
    let running = true;
    const loop = async (n: number): Promise<void> => {
      for (let i = n; running; i += LOOPS) {
        const sentAt = Date.now();
        try {
          const res = await fetch(`${fleet.urls[i % fleet.urls.length]}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'gpt-4o', max_tokens: 20, mock_output_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
          });
          const body = (await res.json()) as { usage?: { total_tokens: number }; error?: { code: string } };
          samples.push({ status: res.status, code: body.error?.code, sentAt, ms: Date.now() - sentAt, tokens: res.status === 200 ? body.usage!.total_tokens : 0 });
          if (res.status !== 200) await sleep(10);
        } catch {
          samples.push({ status: 0, sentAt, ms: Date.now() - sentAt, tokens: 0 }); // a status no check accepts
        }
      }
    };
    const done = Promise.all(Array.from({ length: LOOPS }, (_, n) => loop(n)));
    let failedAt = 0;
    let promotedAt = 0;
    let lost = 0; // tokens settled while the replica was cut off
    try {
      // Served before the failover (a gateway's first calls, cold, took over 500 ms on a busy machine).
      // Measured in tokens spent, not time: on a fast host 700 ms of load while cut off spent the whole
      // limit before the takeover, and nothing was left to serve on the new primary (a CI failure).
      const spentSince = (at: number): number => samples.filter((s) => s.sentAt >= at).reduce((n, s) => n + s.tokens, 0);
      await until(() => samples.some((s) => s.status === 200), 5000);
      await until(() => spentSince(0) >= LIMIT / 6, 5000);
      if (how === 'lagging') {
        const cutAt = await cutOffReplica(cluster, masterPort, replicaPort);
        await until(() => spentSince(cutAt) >= LIMIT / 3, 5000);
        lost = spentSince(cutAt);
      }
      failedAt = Date.now();
      if (how === 'graceful') expect(await cluster.adminOf(replicaPort).call('CLUSTER', 'FAILOVER')).toBe('OK');
      else if (how === 'lagging') expect(await cluster.adminOf(replicaPort).call('CLUSTER', 'FAILOVER', 'TAKEOVER')).toBe('OK');
      else await cluster.servers[cluster.ports.indexOf(masterPort)]!.kill();
      await cluster.waitOwner(slot, replicaPort, 15_000);
      promotedAt = Date.now();
      if (how === 'lagging') await cluster.adminOf(replicaPort).call('CONFIG', 'SET', 'masterauth', '');
      // Until the limit binds on the new primary (and a little longer).
      await until(() => samples.some((s) => s.status === 429 && s.sentAt > promotedAt), 15_000);
      await sleep(300);
    } finally {
      running = false;
      await done;
      // The crashed master comes back (its nodes.conf kept) as a replica of the one that replaced it.
      if (how === 'killed') await cluster.servers[cluster.ports.indexOf(masterPort)]!.restart();
    }
    if (how === 'killed') expect(await cluster.replicaOf(replicaPort)).toBe(masterPort);
    const client = new Cluster(cluster.ports.filter((p) => cluster.adminOf(p).status === 'ready').map((port) => ({ host: '127.0.0.1', port })));
    client.on('error', () => {});
    try {
      const spent = samples.reduce((n, s) => n + s.tokens, 0);
      const statuses = new Map<number, number>();
      for (const s of samples) statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
      const counted = async (): Promise<number> => readCounter(client, COUNTER);
      await until(async () => (await counted()) === spent, 5000).catch(() => {}); // the last settlements reach Redis
      const refused = samples.filter((s) => s.status === 503);
      console.log(
        `cluster failover (${how}): promoted ${promotedAt - failedAt} ms after; answers ${JSON.stringify(Object.fromEntries(statuses))}; ` +
          `503 ${JSON.stringify([...new Set(refused.map((s) => s.code))])} from ${refused.length ? Math.min(...refused.map((s) => s.sentAt)) - failedAt : '-'} to ${refused.length ? Math.max(...refused.map((s) => s.sentAt)) - failedAt : '-'} ms; ` +
          `slowest ${Math.max(...samples.map((s) => s.ms))} ms (503: ${Math.max(0, ...refused.map((s) => s.ms))} ms); ` +
          `${how === 'lagging' ? `settled while cut off ${lost}; ` : ''}spent ${spent} of ${LIMIT}; counter ${await counted()}; ` +
          `rebuilds ${fleet.gateways.map((g) => (g.output().match(/rebuilding them from the ledger/g) ?? []).length).join(', ')}`,
      );
      if (how === 'lagging') {
        // The README's bound for lost writes: a rebuild cannot restore the usage of other instances' calls
        // that end before they notice the loss (settled, not in the ledger yet at the rebuild's query), so
        // a hard limit may be passed by what the calls in flight then hold (1 run in 10 here: one call,
        // 28 tokens, and the counter 28 below the settled usage). At most LOOPS calls are in flight.
        const perCall = Math.max(...samples.map((s) => s.tokens));
        expect(spent).toBeLessThanOrEqual(LIMIT + LOOPS * perCall);
        expect(Math.abs((await counted()) - spent)).toBeLessThanOrEqual(LOOPS * perCall);
      } else {
        expect(spent).toBeLessThanOrEqual(LIMIT); // overshoot 0
        expect(await counted()).toBe(spent); // drift 0
      }
      expect(samples.filter((s) => ![200, 429, 503].includes(s.status))).toEqual([]);
      // Refused within the timeout (a margin for a busy machine); nothing hangs.
      for (const s of refused) expect(s.code).toMatch(/^(store_unavailable|counters_not_rebuilt)$/);
      expect(Math.max(0, ...refused.map((s) => s.ms))).toBeLessThan(TIMEOUT_MS + 250);
      expect(Math.max(...samples.map((s) => s.ms))).toBeLessThan(TIMEOUT_MS + 750);
      // Served again on the new primary without a restart.
      expect(samples.some((s) => s.status === 200 && s.sentAt > promotedAt)).toBe(true);
      for (const g of fleet.gateways) expect(g.child.exitCode).toBeNull();
      if (how === 'lagging') {
        expect(lost).toBeGreaterThan(0); // writes were lost, and noticed
        for (const g of fleet.gateways) expect(g.output()).toMatch(/rebuilding them from the ledger/);
      }
    } finally {
      client.disconnect();
    }
  }, 45_000);
});
