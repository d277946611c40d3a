// Processes: every child's output goes to a log file under --work, and is kept for the crash check.
// Redis (one server, or a cluster), the mock upstream, the gateways, the fleet they make up, and the
// fresh ledger database.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ORG_TAG, PG_ADMIN_URL, configYaml } from './config.mjs';

// Every child still running when the soak exits, however it exits, is killed (this file's own state).
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Spawns `command args`, logging to <work>/<name>.log; resolves once `ready` matches its output. */
export function startProcess(work, name, command, argv, ready, env = {}) {
  const log = createWriteStream(path.join(work, `${name}.log`), { flags: 'a' });
  const child = spawn(command, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const proc = { name, child, output: '', exit: null };
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      proc.exit = { code, signal };
      resolve(proc.exit);
    }),
  );
  proc.exited = exited;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s:\n${proc.output.slice(-2000)}`)), 30_000);
    const onData = (d) => {
      proc.output += d.toString();
      log.write(d);
      const m = ready.exec(proc.output);
      if (m && !proc.url) {
        proc.url = m[1];
        clearTimeout(timer);
        resolve(proc);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then((e) => {
      clearTimeout(timer);
      if (!proc.url) reject(new Error(`${name} exited (${JSON.stringify(e)}) before it was ready:\n${proc.output.slice(-2000)}`));
    });
  });
}

/** SIGTERM, and the exit it leads to (SIGKILL after `graceMs`, reported as such). */
export async function stopProcess(proc, graceMs = 40_000) {
  if (proc.exit) return proc.exit;
  proc.stopping = true;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  return exit;
}

export const startRedis = ({ WORK, REDIS_PORT }) =>
  startProcess(WORK, 'redis', 'redis-server', ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /(Ready to accept connections)/);

// ---- Redis Cluster (--cluster): nodes keep their nodes-<port>.conf under WORK, so a node restarted
// after a kill rejoins with its id (empty: no persistence), as a primary of its old slots when it has no
// replica, or as a replica of the one promoted in its place.

const clusterNodeArgs = (WORK, port) => {
  const dir = path.join(WORK, `cluster-${port}`);
  mkdirSync(dir, { recursive: true });
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000', '--repl-diskless-sync-delay', '0'];
};
export const startClusterNode = ({ WORK }, port) => startProcess(WORK, `redis-${port}`, 'redis-server', clusterNodeArgs(WORK, port), /(Ready to accept connections)/);

function redisCli(...argv) {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`redis-cli ${argv.join(' ')}: exit ${code}\n${out}`))));
  });
}

/** Every live node says cluster_state:ok and names the same primary for `slot` (not `formerOwner`); resolves with its port. */
export async function waitClusterOk({ cfg, deps, fleet }, slot, formerOwner = -1, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = cfg.CLUSTER_PORTS.filter((p) => fleet.redisNodes.get(p) && !fleet.redisNodes.get(p).exit);
    const views = await Promise.all(live.map((p) => clusterView(deps.Redis, p, slot).catch((err) => ({ port: p, ok: false, owner: -1, error: String(err.message ?? err) }))));
    if (views.every((v) => v.ok && v.owner === views[0].owner && v.owner > 0 && v.owner !== formerOwner)) return views[0].owner;
    if (Date.now() > deadline) throw new Error(`the cluster is not ok: ${JSON.stringify(views)}`);
    await sleep(100);
  }
}

/** What node `port` says: whether the cluster is ok, and which primary holds `slot`. */
async function clusterView(Redis, port, slot) {
  const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true, connectTimeout: 2000, commandTimeout: 5000 });
  r.on('error', () => {});
  try {
    await r.connect();
    const info = String(await r.call('CLUSTER', 'INFO'));
    const ranges = await r.call('CLUSTER', 'SLOTS');
    const owner = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)?.[2][1] ?? -1;
    return { port, ok: info.includes('cluster_state:ok'), owner, state: /cluster_state:(\w+)/.exec(info)?.[1] };
  } finally {
    r.disconnect();
  }
}

export async function startCluster(ctx) {
  const { cfg, fleet } = ctx;
  const { WORK, CLUSTER_PORTS, CLUSTER_PORT, CLUSTER_REPLICAS } = cfg;
  fleet.redisNodes = new Map();
  // A new cluster: no node may remember one from an earlier run in the same --work.
  for (const port of CLUSTER_PORTS) rmSync(path.join(WORK, `cluster-${port}`), { recursive: true, force: true });
  for (const port of CLUSTER_PORTS) fleet.redisNodes.set(port, await startClusterNode(cfg, port));
  await redisCli('--cluster', 'create', ...CLUSTER_PORTS.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(CLUSTER_REPLICAS), '--cluster-yes');
  fleet.orgSlot = Number((await redisCli('-p', String(CLUSTER_PORT), 'CLUSTER', 'KEYSLOT', ORG_TAG)).trim());
  await waitClusterOk(ctx, fleet.orgSlot);
  // Replicas in sync before traffic starts.
  const deadline = Date.now() + 15_000;
  for (const port of CLUSTER_PORTS) {
    for (;;) {
      const role = await redisCli('-p', String(port), 'INFO', 'replication');
      if (role.includes('role:master') || role.includes('master_link_status:up')) break;
      if (Date.now() > deadline) throw new Error(`cluster node ${port} never synced`);
      await sleep(100);
    }
  }
}

const startMock = ({ WORK, CLI }) =>
  startProcess(WORK, 'mock-upstream', process.execPath, [CLI, 'mock-upstream', '--host', '127.0.0.1', '--port', '0', '--latency-ms', '5'], /listening on (http:\/\/\S+)/);

export function startGateway({ WORK, CLI }, i, configFile) {
  return startProcess(WORK, `gateway-${i}`, process.execPath, ['--single-threaded-gc', CLI, 'serve', '--config', configFile, '--host', '127.0.0.1', '--port', '0'], /listening on (http:\/\/\S+)/, {
    TOLLGATE_LOG_LEVEL: 'warn',
  });
}

export async function freshDatabase({ cfg, deps }) {
  const admin = deps.postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${cfg.PG_DATABASE} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${cfg.PG_DATABASE}`);
  } finally {
    await admin.end();
  }
}

// ---------------------------------------------------------------------------------------------------
// The fleet: three gateways, each with its own copy of the config (so one can be reloaded alone).

export const createFleet = () => ({ gateways: [], configFiles: [], up: [true, true, true], mockUrl: '', exits: [] });

export async function startFleet({ cfg, fleet }) {
  const mock = await startMock(cfg);
  fleet.mock = mock;
  fleet.mockUrl = mock.url;
  for (let i = 0; i < 3; i++) {
    fleet.configFiles[i] = path.join(cfg.WORK, `gateway-${i}.yaml`);
    writeFileSync(fleet.configFiles[i], configYaml(cfg, mock.url));
  }
  // One at a time: the first creates the ledger's tables.
  for (let i = 0; i < 3; i++) fleet.gateways[i] = await startGateway(cfg, i, fleet.configFiles[i]);
}

/** A gateway that is up, at random: clients do not send to one being restarted (a load balancer would not). */
export function gatewayUrl(fleet, pick) {
  const live = fleet.gateways.map((g, i) => (fleet.up[i] ? g.url : null)).filter(Boolean);
  return pick(live);
}
