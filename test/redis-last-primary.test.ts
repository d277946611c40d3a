// The last-primary id (RESERVE_LUA's `tg:{<org>}:primary`, lost-counters.ts forgetLastPrimaries), from a review:
// cases where the id is left behind after a gateway's rebuild after a failover, so that every later
// reservation of the organization is refused again as TGFAILOVER and sets off one more full rebuild.
// A failover is made here on two private standalone servers: a replica that had the organization's
// counters, then `REPLICAOF NO ONE` (its master_replid2 is then its old master's id, as after a cluster
// failover), and the gateways talk to the promoted one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CounterItem } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { systemClock } from '../src/util/clock.js';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';
import { admitUntilRefused } from './helpers/redis-counters.js';
import { cutOffReplica, startReplicatedCluster, type ReplicatedCluster } from './helpers/redis-cluster-replicas.js';
import { Redis } from 'ioredis';

const TIMEOUT_MS = 500;
const servers: RedisServer[] = [];
const stores: RedisCounterStore[] = [];
const admins: Redis[] = [];

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close().catch(() => {})));
  admins.forEach((a) => a.disconnect());
  await Promise.all(servers.map((s) => s.stop()));
});

async function storeOn(url: string): Promise<RedisCounterStore> {
  const client = createRedisClient(url, TIMEOUT_MS);
  if (!(await waitReady(client, 5000))) throw new Error('redis not ready');
  const store = new RedisCounterStore(client, { timezone: 'UTC', clock: systemClock, reservationTtlMs: 60_000 });
  stores.push(store);
  return store;
}

function admin(port: number): Redis {
  const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  admins.push(r);
  return r;
}

function daily(org: string, max: number): CounterItem {
  return { key: `tg:{${org}}:daily:fixed_window`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
}
let seq = 0;
const id = (): string => `lp${seq++}`;
const replid = async (r: Redis, field = 'master_replid'): Promise<string> => new RegExp(`${field}:([0-9a-f]{40})`).exec(String(await r.call('INFO', 'replication')))![1]!;

/**
 * A primary on which a gateway (watching `org`) admitted one of `org`'s reservations, and its replica,
 * promoted once it has them: returns the promoted node's url. Its master_replid2 is the old primary's id,
 * which `tg:{org}:primary` holds.
 */
async function promotedReplica(org: string): Promise<{ url: string; node: Redis }> {
  const fast = { extraArgs: ['--repl-diskless-sync-delay', '0'] }; // the replica's first sync at once, not after 5 s
  const [primary, replica] = [await startRedisServer(fast), await startRedisServer(fast)];
  servers.push(primary, replica);
  const [p, r] = [admin(primary.port), admin(replica.port)];
  await r.call('REPLICAOF', '127.0.0.1', String(primary.port));
  await until(async () => String(await r.call('INFO', 'replication')).includes('master_link_status:up'), 5000);
  const writer = await storeOn(primary.url);
  await writer.rebuildWhenLost([org], async () => {});
  const q = id();
  expect((await writer.reserve({ id: q, items: [daily(org, 100)], input: 1, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
  await writer.settle(q, { input: 1, output: 0, request: 1 });
  const primaryId = await replid(p);
  await until(async () => (await r.call('GET', `tg:{${org}}:primary`)) === primaryId, 5000);
  await r.call('REPLICAOF', 'NO', 'ONE');
  expect(await replid(r, 'master_replid2')).toBe(primaryId);
  return { url: replica.url, node: r };
}

/** `count` reservations of 1 token, each settled: how many were admitted, and the errors of the others. */
async function reserveMany(store: RedisCounterStore, limit: CounterItem, count: number): Promise<{ admitted: number; errors: string[] }> {
  let admitted = 0;
  const errors: string[] = [];
  for (let i = 0; i < count; i++) {
    const q = id();
    try {
      const r = await store.reserve({ id: q, items: [limit], input: 1, output: 0, clamp: false, minOutput: 1 });
      if (r.ok) {
        admitted++;
        await store.settle(q, { input: 1, output: 0, request: 1 });
      }
    } catch (err) {
      errors.push((err as Error).name === 'CountersNotRebuiltError' ? 'CountersNotRebuiltError' : (err as Error).message.split(' ')[0]!);
    }
  }
  return { admitted, errors };
}

describe('the last primary id after a rebuild after a failover', () => {
  // start-gateway.ts registers the organizations of the keys at start (rebuildWhenLost) and never again,
  // but reservations of an organization a reload added carry the watch keys too, so its id is stored; the
  // rebuild (which covers the current config's organizations) deleted only the registered ones' ids.
  it('an organization added by a reload (not in the organizations watched at start): one rebuild, then admitted', async () => {
    const org = `added${Math.random().toString(36).slice(2, 8)}`;
    const { url, node } = await promotedReplica(org);
    const gateway = await storeOn(url);
    let rebuilds = 0;
    await gateway.rebuildWhenLost(['started-with'], async () => {
      rebuilds++;
    });
    const { admitted, errors } = await reserveMany(gateway, daily(org, 100), 5);
    console.log(`org added by a reload, after a failover: admitted ${admitted} of 5, errors ${JSON.stringify(errors)}, rebuilds ${rebuilds}`);
    expect(errors).toEqual([]);
    expect(admitted).toBe(5);
    expect(rebuilds).toBe(1);
    // The promoted node's own id is noted, so a later failover from it is noticed.
    expect(await node.call('GET', `tg:{${org}}:primary`)).toBe(await replid(node));
  }, 20_000);

  // The node names a primary whose latest writes it may lack, and its id stays stored until a rebuild
  // succeeds: with the ledger down, each reservation was refused as TGFAILOVER (a Redis error to the
  // caller) after a rebuild attempt of its own, a ledger query per request. As with lost counters, it now
  // fails as CountersNotRebuiltError, at once within a second of the failed attempt, and once the ledger
  // answers, the next reservation after that second rebuilds and is admitted.
  it('a rebuild that fails: refused as counters not rebuilt, one attempt a second, not one per reservation; admitted once it succeeds', async () => {
    const org = `failing${Math.random().toString(36).slice(2, 8)}`;
    const { url } = await promotedReplica(org);
    const gateway = await storeOn(url);
    let attempts = 0;
    let ledgerUp = false;
    await gateway.rebuildWhenLost([org], async () => {
      attempts++;
      if (!ledgerUp) throw new Error('the ledger database is not reachable');
    });
    const down = await reserveMany(gateway, daily(org, 100), 5);
    console.log(`failing rebuild after a failover: admitted ${down.admitted} of 5, errors ${JSON.stringify(down.errors)}, rebuild attempts ${attempts}`);
    expect(down.admitted).toBe(0);
    expect(down.errors).toEqual(Array(5).fill('CountersNotRebuiltError'));
    expect(attempts).toBe(1);
    ledgerUp = true;
    await new Promise((r) => setTimeout(r, 1100));
    const up = await reserveMany(gateway, daily(org, 100), 5);
    expect(up).toEqual({ admitted: 5, errors: [] });
    expect(attempts).toBe(2);
  }, 20_000);
});

async function following(replica: Redis, primaryPort: number): Promise<void> {
  await replica.call('REPLICAOF', '127.0.0.1', String(primaryPort));
  await until(async () => String(await replica.call('INFO', 'replication')).includes('master_link_status:up'), 5000);
}

describe('a slot failed over twice before any reservation of the organization', () => {
  // KNOWN GAP (pinned with it.fails: flip to it() once fixed). The first promoted node (R) lacks 60 tokens
  // another instance spent; no reservation of the organization reaches R, so nothing rebuilds, and R is
  // replaced in turn by a node that synced from it (Q). Q's master_replid2 is R's id, while the stored id
  // (and every instance's memory) still names the first primary (P): no check sees a failover, and a
  // gateway that did not make the 60 admits against the rolled-back counter. With R as the primary, the
  // same gateway is refused after 30 (a test in this file's first part shows the check working).
  it.fails('a newcomer after the second promotion: rebuilt before it admits (admitted 30 of 100, not 90)', async () => {
    const org = `twice${Math.random().toString(36).slice(2, 8)}`;
    const limit = daily(org, 100);
    const fast = { extraArgs: ['--repl-diskless-sync-delay', '0'] };
    const [p, r, q] = [await startRedisServer(fast), await startRedisServer(fast), await startRedisServer(fast)];
    servers.push(p, r, q);
    const [pa, ra, qa] = [admin(p.port), admin(r.port), admin(q.port)];
    await following(ra, p.port);
    const writer = await storeOn(p.url);
    let ledgerUsed = 0;
    await writer.rebuildWhenLost([org], async () => writer.restore([{ item: limit, used: ledgerUsed }]));
    const first = id();
    expect((await writer.reserve({ id: first, items: [limit], input: 1, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    await writer.settle(first, { input: 1, output: 0, request: 1 });
    ledgerUsed = 1;
    const pid = await replid(pa);
    await until(async () => (await ra.call('GET', `tg:{${org}}:primary`)) === pid, 5000);
    // R taken over while behind: the 60 the writer spends next on P never reach it.
    await ra.call('REPLICAOF', 'NO', 'ONE');
    const spent = id();
    expect((await writer.reserve({ id: spent, items: [limit], input: 60, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    await writer.settle(spent, { input: 60, output: 0, request: 1 });
    ledgerUsed = 61;
    // Q follows R, then takes over from it, before any reservation of the organization reached R.
    await following(qa, r.port);
    await qa.call('REPLICAOF', 'NO', 'ONE');
    expect(await replid(qa, 'master_replid2')).toBe(await replid(ra));
    expect(await qa.call('GET', `tg:{${org}}:primary`)).toBe(pid);

    const newcomer = await storeOn(q.url);
    let rebuilds = 0;
    await newcomer.rebuildWhenLost([org], async () => {
      rebuilds++;
      await newcomer.restore([{ item: limit, used: ledgerUsed }]);
    });
    const admitted = await admitUntilRefused(newcomer, limit, 10);
    console.log(`failed over twice, newcomer: admitted ${ledgerUsed + admitted} of a limit of 100 (rebuilds: ${rebuilds})`);
    expect(ledgerUsed + admitted).toBeLessThanOrEqual(100);
    expect(rebuilds).toBe(1);
  }, 20_000);
});

// A rebuild after a failover deletes every stored id once it is done (forgetLastPrimaries), including
// that of an organization whose node failed over after the rebuild read the ledger: writes made between
// the read and that failover, and lost in it, are then noticed by no gateway that did not make them.
// Two failovers close together on different masters are what one host carrying two masters does.
describe('on a 3+3 cluster: a second master failing over while a rebuild after the first runs', () => {
  let cluster: ReplicatedCluster;
  beforeAll(async () => {
    cluster = await startReplicatedCluster();
  }, 30_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  async function clusterStore(): Promise<RedisCounterStore> {
    const client = createRedisClient(cluster.url, 250);
    if (!(await waitReady(client, 5000))) throw new Error('cluster not ready');
    const store = new RedisCounterStore(client, { timezone: 'UTC', clock: systemClock, reservationTtlMs: 60_000, callTimeoutMs: 1000 });
    stores.unshift(store); // closed before the servers stop
    return store;
  }
  const slotOf = async (org: string): Promise<number> => Number(await cluster.admin[0]!.call('CLUSTER', 'KEYSLOT', `tg:{${org}}`));

  it("the id of the failover after the ledger read is kept: a newcomer rebuilds before it admits (30 of 100, not 90)", async () => {
    // Two organizations on two masters.
    const x = `x${Math.random().toString(36).slice(2, 8)}`;
    let y = '';
    const [slotX, ownerX] = [await slotOf(x), await cluster.ownerOf(await slotOf(x))];
    for (let i = 0; !y; i++) {
      const candidate = `y${i}${Math.random().toString(36).slice(2, 6)}`;
      if ((await cluster.ownerOf(await slotOf(candidate))) !== ownerX) y = candidate;
    }
    const [limitX, limitY] = [daily(x, 100), daily(y, 100)];
    const slotY = await slotOf(y);
    const ownerY = await cluster.ownerOf(slotY);
    const ledger = { [x]: 0, [y]: 0 };
    const spend = async (store: RedisCounterStore, limit: CounterItem, org: string, amount: number): Promise<void> => {
      const q = id();
      expect((await store.reserve({ id: q, items: [limit], input: amount, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
      await store.settle(q, { input: amount, output: 0, request: 1 });
      ledger[org]! += amount;
    };
    const writer = await clusterStore();
    await writer.rebuildWhenLost([x, y], async () => writer.restore([{ item: limitX, used: ledger[x]! }, { item: limitY, used: ledger[y]! }]));
    await spend(writer, limitX, x, 1);
    await spend(writer, limitY, y, 1);
    const [replicaX, replicaY] = [await cluster.replicaOf(ownerX), await cluster.replicaOf(ownerY)];
    for (const [port, org] of [[replicaX, x], [replicaY, y]] as const) {
      await until(async () => /^[0-9a-f]{40}$/.test(String(await cluster.adminOf(port).call('GET', `tg:{${org}}:primary`))), 3000);
    }
    await cutOffReplica(cluster, ownerY, replicaY);

    // The first failover: x's master, gracefully (nothing lost).
    expect(await cluster.adminOf(replicaX).call('CLUSTER', 'FAILOVER')).toBe('OK');
    await cluster.waitOwner(slotX, replicaX);

    // A gateway notices it, and rebuilds: it reads the ledger, then y's master takes 60 more tokens its
    // replica never gets, and the replica takes over, before the rebuild's restore and its forgetting.
    const gateway = await clusterStore();
    await gateway.rebuildWhenLost([x, y], async () => {
      const read = { ...ledger };
      await spend(writer, limitY, y, 60);
      expect(await cluster.adminOf(replicaY).call('CLUSTER', 'FAILOVER', 'TAKEOVER')).toBe('OK');
      await cluster.waitOwner(slotY, replicaY);
      await cluster.adminOf(replicaY).call('CONFIG', 'SET', 'masterauth', '');
      await gateway.restore([{ item: limitX, used: read[x]! }, { item: limitY, used: read[y]! }]);
    });
    await spend(gateway, limitX, x, 1);
    // x's id, of the failover before the read, is forgotten: the next admission noted its new primary's.
    expect(await cluster.adminOf(replicaX).call('GET', `tg:{${x}}:primary`)).toBe(await replid(cluster.adminOf(replicaX)));

    const newcomer = await clusterStore();
    let rebuilds = 0;
    await newcomer.rebuildWhenLost([y], async () => {
      rebuilds++;
      await newcomer.restore([{ item: limitY, used: ledger[y]! }]);
    });
    const admitted = await admitUntilRefused(newcomer, limitY, 10);
    await until(async () => String(await cluster.adminOf(ownerY).call('INFO', 'replication')).includes('master_link_status:up'), 15_000);
    console.log(`a second failover during a rebuild, newcomer: admitted ${ledger[y]! + admitted} of a limit of 100 (rebuilds: ${rebuilds})`);
    expect(ledger[y]! + admitted).toBeLessThanOrEqual(100);
    expect(rebuilds).toBe(1);
  }, 45_000);
});
