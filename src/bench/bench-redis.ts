// The Redis the bench's Redis path uses: a private redis-server child (or BENCH_REDIS_URL), and its
// command counters, to report how many round trips a request costs.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { track } from './children.js';

/** A Redis for the bench, with the pid to charge CPU to when it is a private child. */
export interface BenchRedis {
  url: string;
  pid?: number;
  /** Top-level script calls (EVALSHA + EVAL) so far: one per network round trip of the gateway. */
  scriptCalls(): Promise<number>;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Uses BENCH_REDIS_URL, or starts `redis-server` on a free port without persistence. */
export async function startBenchRedis(): Promise<BenchRedis> {
  let url = process.env.BENCH_REDIS_URL;
  let pid: number | undefined;
  if (!url) {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    track(child);
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`could not start redis-server (set BENCH_REDIS_URL to use another): ${err.message}`)));
      child.once('spawn', () => resolve());
    });
    pid = child.pid;
    url = `redis://127.0.0.1:${port}`;
  }
  const client = new Redis(url, { maxRetriesPerRequest: 20, retryStrategy: () => 50 });
  // A fresh redis-server refuses the first attempts until it listens: those are retried, and a Redis
  // that never comes fails the ping below, so the error events need no report of their own.
  client.on('error', () => {});
  await client.ping();
  return {
    url,
    ...(pid !== undefined ? { pid } : {}),
    scriptCalls: async () => {
      const info = await client.info('commandstats');
      return [...info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    },
    close: async () => void (await client.quit()),
  };
}
