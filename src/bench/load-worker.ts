// Load-generator child process: runs jobs sent over IPC, so its CPU and event loop stay apart from what is measured.
import { Pool } from 'undici';
import type { LoadJob, LoadResult, WorkerReply, WorkerRequest } from './load-protocol.js';
import { runClosedLoop, runOpenLoop } from './load-loops.js';

// Enough sockets that the open loop never queues behind a slow response at the rates we run.
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
// Pools persist across jobs so measured phases never pay for new connections.
const pools = new Map<string, Pool>();

function poolFor(origin: string, concurrency: number): Pool {
  let pool = pools.get(origin);
  if (!pool) {
    pool = new Pool(origin, {
      connections: Math.max(CONNECTIONS, concurrency),
      pipelining: 1,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    pools.set(origin, pool);
  }
  return pool;
}

function run(job: LoadJob): Promise<LoadResult> {
  if (job.kind === 'open') return runOpenLoop(poolFor(job.target.origin, 0), job);
  return runClosedLoop(poolFor(job.target.origin, job.concurrency), job);
}

if (!process.send) {
  console.error('load-worker.js is started by dist/bench/index.js over an IPC channel; run `npm run bench`.');
  process.exit(1);
}

process.on('message', (msg: WorkerRequest) => {
  run(msg.job).then(
    (result) => process.send!({ id: msg.id, result } satisfies WorkerReply),
    (err: unknown) => process.send!({ id: msg.id, error: String((err as Error)?.stack ?? err) } satisfies WorkerReply),
  );
});
// The orchestrator going away (even by SIGKILL) closes the channel; never outlive it.
process.on('disconnect', () => process.exit(0));
