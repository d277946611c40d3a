// Starts private redis-server processes (a single node or a 3-node cluster) on free ports for tests, so
// tests may kill, slow down or flush them without touching the shared Redis on 6379.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { freeStablePort, portFree } from './stable-port.js';

const run = promisify(execFile);
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A port that is free, and whose cluster bus port (+10000) is free too. Both below Linux's ephemeral range
 * (32768 and up): a port there that is free when checked can be taken by an outgoing connection of another
 * test before redis-server binds it (review-held-index-cluster: "redis-server on 33194 did not answer PING").
 */
export async function freeRedisPort(): Promise<number> {
  return freeStablePort(22_700, (port) => portFree(port + 10_000));
}

/** Sends one inline command and resolves with the first reply line, or rejects. */
export function rawCommand(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(data);
      }
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  /** Stops it gracefully (SHUTDOWN NOSAVE semantics: SIGTERM with persistence off). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port (and data directory); a no-op while it runs. */
  restart(): Promise<void>;
}

export interface RedisServerOptions {
  port?: number;
  /** Keep data across kill and restart (append-only file, fsync on every write). */
  persist?: boolean;
  extraArgs?: string[];
}

async function waitPong(port: number, child?: ChildProcess, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await rawCommand(port, 'PING', 300)).startsWith('+PONG')) return;
    } catch {
      // not up yet
    }
    // One that exited (a port it could not bind) never answers: said at once, not after the timeout.
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`redis-server on ${port} exited (${child.exitCode ?? child.signalCode}) before answering PING`);
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer PING`);
    await sleep(20);
  }
}

/**
 * Starts a private redis-server; stop it in afterAll. On a port of its own choosing, a start that fails (the
 * port taken between the check and the bind by a process of another test) is tried again on another port.
 */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisServerOn(opts.port ?? (await freeRedisPort()), opts);
    } catch (err) {
      if (opts.port !== undefined || attempt === 3) throw err;
    }
  }
}

async function startRedisServerOn(port: number, opts: RedisServerOptions): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-redis-'));
  const persistence = opts.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir, ...(opts.extraArgs ?? [])];
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    child = spawn('redis-server', args, { stdio: 'ignore' });
    live.add(child);
    const c = child;
    c.once('exit', () => live.delete(c));
    await waitPong(port, c);
  };
  const end = (signal: NodeJS.Signals) => async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  };
  const kill = end('SIGKILL');
  try {
    await launch();
  } catch (err) {
    await kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: launch,
    stop: async () => {
      await end('SIGTERM')();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A private redis-server for the test file (or the describe block it is called in): registers a beforeAll that
 * starts it and an afterAll that stops it. The handle returned reaches that server once beforeAll ran (reading
 * it sooner throws). Hooks registered after this call run after the start and, vitest running after-hooks in
 * reverse order, before the stop: connections closed there are closed while the server still runs.
 */
export function usePrivateRedis(opts: RedisServerOptions = {}): RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer(opts);
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
  });
  const started = (): RedisServer => {
    if (!server) throw new Error('usePrivateRedis: the server is not started yet (read it in a hook or a test)');
    return server;
  };
  return {
    get port() {
      return started().port;
    },
    get url() {
      return started().url;
    },
    stop: () => started().stop(),
    kill: () => started().kill(),
    restart: () => started().restart(),
  };
}

export interface RedisCluster {
  ports: number[];
  /** `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` */
  url: string;
  stop(): Promise<void>;
}

/** Starts `count` cluster-enabled redis-servers on free ports (not yet joined: `redis-cli --cluster create`). */
export async function startClusterNodes(count: number, extraArgs: string[]): Promise<{ ports: number[]; servers: RedisServer[] }> {
  const servers: RedisServer[] = [];
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    // As startRedisServer does on a port of its own choosing: a start that fails is tried on another port.
    for (let attempt = 1; ; attempt++) {
      const port = await freeRedisPort();
      const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-cluster-'));
      try {
        servers.push(await startRedisServer({ port, extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), ...extraArgs] }));
        ports.push(port);
        break;
      } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        if (attempt === 3) throw err;
      }
    }
  }
  return { ports, servers };
}

/** Starts a 3-master Redis Cluster on local ports and waits until every node reports `cluster_state:ok`. */
export async function startRedisCluster(nodes = 3): Promise<RedisCluster> {
  const { ports, servers } = await startClusterNodes(nodes, ['--cluster-node-timeout', '2000']);
  await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
  const deadline = Date.now() + 10_000;
  for (const port of ports) {
    for (;;) {
      const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
      if (stdout.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error(`cluster node ${port} never reached cluster_state:ok`);
      await sleep(50);
    }
  }
  return {
    ports,
    url: `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}
