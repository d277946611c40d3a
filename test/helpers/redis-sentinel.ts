// A private Redis Sentinel setup for tests: one primary, one replica and three sentinels, all real
// redis-server processes on free local ports, with timings short enough that a failover takes seconds.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freeRedisPort, startRedisServer, type RedisServer } from './redis-servers.js';

export const MASTER_NAME = 'tgmaster';
/** Sentinel settings: a primary silent this long is down; a failover that stalls is retried after twice the timeout. */
export const DOWN_AFTER_MS = 1000;
const FAILOVER_TIMEOUT_MS = 3000;

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface SentinelSetup {
  /** The two data nodes; which one is the primary changes with a failover (see `primaryPort`). */
  nodes: RedisServer[];
  sentinelPorts: number[];
  /** `redis-sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/tgmaster` */
  url: string;
  /** The port of the primary the sentinels name now. */
  primaryPort(): Promise<number>;
  /**
   * Waits until every sentinel names the same primary, and returns its port. After a failover the sentinels
   * that did not lead it learn of it from the leader's hello messages, up to ~2 s later; a client that asks
   * one of them meanwhile is sent to the old primary (still a primary until it is converted).
   */
  agreedPrimaryPort(timeoutMs?: number): Promise<number>;
  /** Waits until the sentinels name a primary other than `port`, and that primary answers as one; returns its port. */
  waitForFailover(port: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

/** One command on a connection of its own; rejects rather than retries (a dead node is an answer too). */
export async function ask(port: number, ...command: string[]): Promise<unknown> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 500, commandTimeout: 1000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(command[0]!, ...command.slice(1));
  } finally {
    client.disconnect();
  }
}

async function sentinelMasterField(port: number, field: string): Promise<string | undefined> {
  const parts = (await ask(port, 'SENTINEL', 'MASTER', MASTER_NAME).catch(() => [])) as string[];
  const i = parts.indexOf(field);
  return i >= 0 ? parts[i + 1] : undefined;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`redis sentinel setup: ${what}`);
    await sleep(50);
  }
}

function startSentinel(port: number, primaryPort: number): { stop: () => Promise<void> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-sentinel-'));
  const conf = path.join(dir, 'sentinel.conf'); // sentinels rewrite their file: it must be their own
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${MASTER_NAME} ${FAILOVER_TIMEOUT_MS}`,
      `sentinel parallel-syncs ${MASTER_NAME} 1`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return {
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts the five processes and waits until every sentinel knows the replica and the two other sentinels. */
export async function startSentinelSetup(): Promise<SentinelSetup> {
  // Redis 7 waits 5 s for more replicas before a diskless full sync; here one is all there will be.
  const primary = await startRedisServer({ extraArgs: ['--repl-diskless-sync-delay', '0'] });
  const replica = await startRedisServer({ extraArgs: ['--replicaof', '127.0.0.1', String(primary.port), '--repl-diskless-sync-delay', '0'] });
  const nodes = [primary, replica];
  const sentinelPorts: number[] = [];
  const sentinels: Array<{ stop: () => Promise<void> }> = [];
  const stop = async (): Promise<void> => {
    await Promise.all(sentinels.map((s) => s.stop()));
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    // Sentinels learn replicas from the primary's INFO: the replica must be attached before they start.
    await until(async () => String(await ask(replica.port, 'INFO', 'replication').catch(() => '')).includes('master_link_status:up'), 10_000, 'the replica never synced');
    for (let i = 0; i < 3; i++) {
      const port = await freeRedisPort();
      sentinelPorts.push(port);
      sentinels.push(startSentinel(port, primary.port));
    }
    for (const port of sentinelPorts) {
      await until(async () => (await sentinelMasterField(port, 'num-slaves')) === '1' && (await sentinelMasterField(port, 'num-other-sentinels')) === '2', 15_000, `sentinel ${port} never saw the replica and the other sentinels`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const primaryPort = async (): Promise<number> => {
    for (const port of sentinelPorts) {
      const addr = (await ask(port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME).catch(() => null)) as string[] | null;
      if (addr?.length === 2) return Number(addr[1]);
    }
    throw new Error('no sentinel answered');
  };
  return {
    nodes,
    sentinelPorts,
    url: `redis-sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${MASTER_NAME}`,
    primaryPort,
    agreedPrimaryPort: async (timeoutMs = 10_000) => {
      let agreed = 0;
      await until(
        async () => {
          const named = await Promise.all(sentinelPorts.map((port) => ask(port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME).catch(() => null)));
          const ports = new Set(named.map((addr) => Number((addr as string[] | null)?.[1])));
          agreed = ports.size === 1 ? [...ports][0]! : 0;
          return agreed > 0;
        },
        timeoutMs,
        'the sentinels do not agree on a primary',
      );
      return agreed;
    },
    waitForFailover: async (port, timeoutMs = 15_000) => {
      let next = port;
      await until(
        async () => {
          next = await primaryPort().catch(() => port);
          return next !== port && ((await ask(next, 'ROLE').catch(() => [])) as string[])[0] === 'master';
        },
        timeoutMs,
        `no failover away from ${port}`,
      );
      return next;
    },
    stop,
  };
}
