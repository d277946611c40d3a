// Several real gateway processes sharing one counter store, in front of one mock-upstream process,
// plus load-client processes that release their requests together.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { servedAtMidday } from './midday-zone.js';
import { REPO_ROOT, startCli, writeConfig, type RunningProcess } from './processes.js';

const run = promisify(execFile);
const LOAD_CLIENT = path.join(REPO_ROOT, 'test/helpers/redis-load-client.mjs');

export interface Fleet {
  mockUrl: string;
  gateways: RunningProcess[];
  urls: string[];
  /** Requests the mock upstream received (its last 1000). */
  upstreamRequests(): Promise<unknown[]>;
  clearUpstream(): Promise<void>;
  /** Stops gateway `i` (SIGTERM) and starts a fresh process with the same config in its place. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the mock upstream and `n` gateways serving `configFor(mockUrl)`, in a zone where it is midday
 * unless the config names its own (servedAtMidday: fleets spend daily budgets and compare the spending
 * with the limit, which holds within one day).
 */
export async function startFleet(n: number, configFor: (mockUrl: string) => string, env: NodeJS.ProcessEnv = {}): Promise<Fleet> {
  const mock = await startCli(['mock-upstream', '--host', '127.0.0.1', '--port', '0']);
  const config = writeConfig(servedAtMidday(configFor(mock.url)));
  const started = await Promise.allSettled(Array.from({ length: n }, () => startCli(['serve', '--config', config, '--port', '0'], env)));
  const gateways = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(gateways.map((g) => g.stop()));
    await mock.stop();
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const urls = gateways.map((g) => g.url);
  return {
    mockUrl: mock.url,
    gateways,
    urls,
    upstreamRequests: async () => (await fetch(`${mock.url}/__mock/requests`)).json() as Promise<unknown[]>,
    clearUpstream: async () => void (await fetch(`${mock.url}/__mock/requests`, { method: 'DELETE' })),
    restart: async (i: number) => {
      await gateways[i].stop();
      gateways[i] = await startCli(['serve', '--config', config, '--port', '0'], env);
      urls[i] = gateways[i].url;
    },
    stop,
  };
}

/** One call a load loop made: its status (0: no answer), error code, when it was sent, how long it took, tokens billed. */
export interface CallSample {
  status: number;
  code?: string;
  sentAt: number;
  ms: number;
  tokens: number;
}

export interface LoadRequest {
  key: string;
  body: Record<string, unknown>;
}

export interface LoadResult {
  key: string;
  status: number;
  ms: number;
  usage?: { input: number; output: number };
  code?: string;
  limit?: string;
}

/**
 * Runs one load-client process per list of requests; all of them release their requests at the same
 * instant, or with `paceMs`, each client its i-th request `i * paceMs` after that instant.
 */
export async function releaseTogether(urls: string[], perClient: LoadRequest[][], paceMs = 0): Promise<LoadResult[]> {
  const startAt = Date.now() + 1500;
  const outputs = await Promise.all(
    perClient.map((requests) => run(process.execPath, [LOAD_CLIENT, JSON.stringify({ urls, startAt, paceMs, requests })], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 })),
  );
  return outputs.flatMap((o) => JSON.parse(o.stdout) as LoadResult[]);
}
