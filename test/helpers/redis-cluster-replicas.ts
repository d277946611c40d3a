// A Redis Cluster of 3 masters, each with one replica (6 private redis-server processes on free ports),
// for failover tests: which node owns a slot, which replica follows it, and waiting for a promotion.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startClusterNodes, type RedisServer } from './redis-servers.js';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ReplicatedCluster {
  /** Every node's port, masters first (as created; roles change with failovers). */
  ports: number[];
  servers: RedisServer[];
  /** `redis-cluster://` listing every node, replicas included, as an operator would. */
  url: string;
  /** One plain (non-cluster) client per node, in `ports` order, for CLUSTER and INFO commands. */
  admin: Redis[];
  adminOf(port: number): Redis;
  /** The port of the master serving `slot` now, as node `askPort` sees it. */
  ownerOf(slot: number, askPort?: number): Promise<number>;
  /** The port of a replica following the master on `masterPort`. */
  replicaOf(masterPort: number): Promise<number>;
  /** Waits until every live node reports `cluster_state:ok` and `port` owns `slot`. */
  waitOwner(slot: number, port: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts 3 masters and 3 replicas (`redis-cli --cluster create --cluster-replicas 1`) and waits until all
 * are in sync. No wait before a full sync (`repl-diskless-sync-delay` is 5 s by default), so a demoted
 * master follows its successor within moments.
 */
export async function startReplicatedCluster(nodeTimeoutMs = 1000): Promise<ReplicatedCluster> {
  const { ports, servers } = await startClusterNodes(6, ['--cluster-node-timeout', String(nodeTimeoutMs), '--repl-diskless-sync-delay', '0']);
  await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
  const admin = ports.map((port) => {
    const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    r.on('error', () => {}); // nodes are killed on purpose
    // Reads of a replica's own data (what it has of a key) rather than a MOVED to its master.
    r.on('ready', () => void r.call('READONLY').catch(() => {}));
    return r;
  });
  const adminOf = (port: number): Redis => admin[ports.indexOf(port)]!;
  const ownerOf = async (slot: number, askPort = ports[0]!): Promise<number> => {
    const ranges = (await adminOf(askPort).call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    return ranges.find(([lo, hi]) => slot >= lo && slot <= hi)![2][1];
  };
  const stop = async (): Promise<void> => {
    admin.forEach((r) => r.disconnect());
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    // Every node agrees the cluster is up, and every replica has finished its first sync.
    const deadline = Date.now() + 15_000;
    for (const r of admin) {
      for (;;) {
        const info = String(await r.call('CLUSTER', 'INFO'));
        const role = String(await r.call('INFO', 'replication'));
        if (info.includes('cluster_state:ok') && (role.includes('role:master') || role.includes('master_link_status:up'))) break;
        if (Date.now() > deadline) throw new Error('the replicated cluster never came up');
        await sleep(50);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    ports,
    servers,
    url: `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    admin,
    adminOf,
    ownerOf,
    replicaOf: async (masterPort) => {
      // A replica in sync with it, as the replica itself says (the cluster bus may take a moment longer).
      const deadline = Date.now() + 10_000;
      for (;;) {
        for (const port of ports.filter((p) => p !== masterPort)) {
          const info = await adminOf(port).call('INFO', 'replication').then(String, () => '');
          if (info.includes(`master_port:${masterPort}\r\n`) && info.includes('master_link_status:up')) return port;
        }
        if (Date.now() > deadline) throw new Error(`no replica of ${masterPort}`);
        await sleep(50);
      }
    },
    waitOwner: async (slot, port, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const live = servers.filter((_, i) => admin[i]!.status === 'ready').map((s) => s.port);
        const views = await Promise.all(live.map((p) => ownerOf(slot, p).catch(() => -1)));
        const states = await Promise.all(live.map((p) => adminOf(p).call('CLUSTER', 'INFO').then(String, () => '')));
        if (views.every((v) => v === port) && states.every((s) => s.includes('cluster_state:ok'))) return;
        if (Date.now() > deadline) throw new Error(`slot ${slot} never moved to ${port} (views: ${views.join(',')})`);
        await sleep(50);
      }
    },
    stop,
  };
}

/**
 * Cuts the replica on `replicaPort` off from its master on `masterPort` (a wrong password, so it cannot
 * sync again) and waits until it sees the link down. Returns when: writes from then on are the ones a
 * takeover by this replica loses.
 */
export async function cutOffReplica(cluster: ReplicatedCluster, masterPort: number, replicaPort: number): Promise<number> {
  const replica = cluster.adminOf(replicaPort);
  await replica.call('CONFIG', 'SET', 'masterauth', 'not-the-password');
  await cluster.adminOf(masterPort).call('CLIENT', 'KILL', 'TYPE', 'replica');
  const deadline = Date.now() + 3000;
  while (!String(await replica.call('INFO', 'replication')).includes('master_link_status:down')) {
    if (Date.now() > deadline) throw new Error(`the replica on ${replicaPort} still follows ${masterPort}`);
    await sleep(20);
  }
  return Date.now();
}
