// `npm run bench`: direct-to-mock vs through-the-gateway latency, throughput and gateway CPU per request,
// all measured in one run (interleaved rounds, since the machine is noisy). Writes .bench/results.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { BENCH_BODY, benchConfigYaml } from './bench-config.js';
import { killAllNow, spawnCli, stopAll, type CliProcess } from './children.js';
import { addedLatency, pathFigures, target, type PathName, type Phase } from './figures.js';
import { LoadClient } from './load-client.js';
import type { LoadJob, LoadTarget } from './load-protocol.js';
import { cpuMicros, machineBusyMicros, memory } from './proc-stats.js';
import { renderReport, type BenchResults } from './report.js';
import { readSettings, type Settings } from './settings.js';

const CHAT_PATH = '/v1/chat/completions';
const RESULTS_FILE = join('.bench', 'results.json');
// A short idle gap between phases so one phase's GC and socket churn do not bleed into the next.
const SETTLE_MS = 300;

let tmpDir: string | undefined;
let load: LoadClient | undefined;
let interrupted = false;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const progress = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

async function startGateway(mockUrl: string): Promise<CliProcess> {
  tmpDir = mkdtempSync(join(os.tmpdir(), 'tollgate-bench-'));
  const config = join(tmpDir, 'tollgate.yaml');
  writeFileSync(config, benchConfigYaml(mockUrl));
  return spawnCli('gateway', ['serve', '--config', config, '--host', '127.0.0.1', '--port', '0'], { TOLLGATE_LOG_LEVEL: 'warn' });
}

/** Runs one job and charges each server the CPU it used meanwhile. */
async function measure(path: PathName, round: number, job: LoadJob, mock: CliProcess, gateway?: CliProcess): Promise<Phase> {
  await sleep(SETTLE_MS);
  const g0 = gateway ? cpuMicros(gateway.pid) : 0;
  const m0 = cpuMicros(mock.pid);
  const b0 = machineBusyMicros();
  const result = await load!.run(job);
  const gatewayCpuUs = gateway ? cpuMicros(gateway.pid) - g0 : 0;
  const mockCpuUs = cpuMicros(mock.pid) - m0;
  // Whatever else ran meanwhile (other builds and tests on a shared box) competed for the same cores.
  const otherCpuUs = Math.max(0, machineBusyMicros() - b0 - gatewayCpuUs - mockCpuUs - result.workerCpuUs);
  return { path, round, result, gatewayCpuUs: gateway ? gatewayCpuUs : NaN, mockCpuUs, otherCpuUs };
}

/** Alternates which path goes first, so a slow drift in the machine hits both paths alike. */
function orderFor(round: number, paths: PathName[]): PathName[] {
  return round % 2 === 0 ? paths : [...paths].reverse();
}

async function main(s: Settings): Promise<number> {
  const startedAt = new Date();
  const loadAvgAtStart = os.loadavg();
  progress('starting mock upstream');
  const mock = await spawnCli('mock upstream', ['mock-upstream', '--host', '127.0.0.1', '--port', '0', '--latency-ms', '0', '--output-tokens', '16']);
  let gateway: CliProcess | undefined;
  let gatewayError: string | undefined;
  if (!s.directOnly) {
    progress('starting gateway');
    try {
      gateway = await startGateway(mock.url);
    } catch (err) {
      gatewayError = (err as Error).message;
    }
  }
  load = LoadClient.start();

  const targets: Record<PathName, LoadTarget> = {
    direct: { origin: mock.url, path: CHAT_PATH, authorization: 'Bearer sk-bench', body: BENCH_BODY },
    gateway: { origin: gateway?.url ?? '', path: CHAT_PATH, authorization: 'Bearer tg-bench', body: BENCH_BODY },
  };

  // One request per path first: a broken path should say why, not produce a table of errors.
  const probe = async (path: PathName): Promise<string | undefined> => {
    const r = await load!.run({ kind: 'closed', target: targets[path], concurrency: 1, seconds: 10, maxRequests: 1 });
    return r.ok === 1 ? undefined : r.firstError ?? 'no answer';
  };
  const directProblem = await probe('direct');
  if (directProblem) throw new Error(`the mock upstream does not answer ${CHAT_PATH}: ${directProblem}\n${mock.tail()}`);
  if (gateway) {
    const problem = await probe('gateway');
    if (problem) {
      gatewayError = `${CHAT_PATH} through the gateway failed: ${problem}\n${gateway.tail()}`;
      gateway = undefined;
    }
  }
  if (gatewayError) progress(`GATEWAY NOT MEASURED, running direct only:\n${gatewayError}`);
  const paths: PathName[] = gateway ? ['direct', 'gateway'] : ['direct'];

  for (const path of paths) {
    progress(`warm-up: ${s.warmupRequests} requests ${path}`);
    await load.run({ kind: 'closed', target: targets[path], concurrency: s.concurrency, seconds: 120, maxRequests: s.warmupRequests });
  }

  const open: Phase[] = [];
  for (let round = 0; round < s.openRounds; round++) {
    for (const path of orderFor(round, paths)) {
      const job: LoadJob = { kind: 'open', target: targets[path], rate: s.rate, seconds: s.openRoundSeconds };
      const phase = await measure(path, round, job, mock, gateway);
      open.push(phase);
      const l = phase.result.latency;
      progress(`open loop round ${round + 1}/${s.openRounds} ${path}: p50 ${l.p50.toFixed(2)} p99 ${l.p99.toFixed(2)} ms, ${phase.result.errors} errors`);
    }
  }

  const sat: Phase[] = [];
  for (let round = 0; round < s.satRounds; round++) {
    for (const path of orderFor(round, paths)) {
      const job: LoadJob = { kind: 'closed', target: targets[path], concurrency: s.concurrency, seconds: s.satRoundSeconds };
      const phase = await measure(path, round, job, mock, gateway);
      sat.push(phase);
      progress(`saturation round ${round + 1}/${s.satRounds} ${path}: ${phase.result.achievedRps.toFixed(0)} req/s, ${phase.result.errors} errors`);
    }
  }

  const of = (phases: Phase[], path: PathName): Phase[] => phases.filter((p) => p.path === path);
  const results: BenchResults = {
    timestamp: startedAt.toISOString(),
    machine: {
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      totalMemoryBytes: os.totalmem(),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadAvgAtStart,
    },
    settings: s,
    ...(gatewayError ? { gatewayError } : {}),
    openLoop: {
      rate: s.rate,
      direct: pathFigures(of(open, 'direct'), 'open'),
      gateway: pathFigures(of(open, 'gateway'), 'open'),
      addedLatencyMs: addedLatency(open),
      phases: open,
    },
    saturation: {
      concurrency: s.concurrency,
      direct: pathFigures(of(sat, 'direct'), 'closed'),
      gateway: pathFigures(of(sat, 'gateway'), 'closed'),
      rpsRatio: NaN,
      phases: sat,
    },
    ...(gateway ? { gatewayMemory: ((m) => ({ rssBytes: m.rss, peakRssBytes: m.peakRss }))(memory(gateway.pid)) } : {}),
    targets: [],
  };
  const { openLoop: o, saturation: z } = results;
  z.rpsRatio = (z.gateway?.rps ?? NaN) / (z.direct?.rps ?? NaN);
  results.targets = [
    target(`gateway CPU @${s.rate} req/s`, o.gateway?.gatewayCpuUsPerReq ?? NaN, 150, 'µs/req'),
    target('gateway CPU @saturation', z.gateway?.gatewayCpuUsPerReq ?? NaN, 150, 'µs/req'),
    target(`added latency p50 @${s.rate} req/s`, o.addedLatencyMs.p50, 0.3, 'ms'),
    target(`added latency p99 @${s.rate} req/s`, o.addedLatencyMs.p99, 1, 'ms'),
  ];

  mkdirSync('.bench', { recursive: true });
  // Infinity/NaN are not JSON; null says "not measured".
  writeFileSync(RESULTS_FILE, JSON.stringify(results, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  console.log(renderReport(results));
  console.log(`\nWrote ${RESULTS_FILE}`);
  return gatewayError ? 1 : 0;
}

async function cleanup(): Promise<void> {
  load?.close();
  await stopAll();
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
}

// Children must never outlive the bench: Ctrl-C and kill stop them, and 'exit' SIGKILLs any straggler.
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    progress(`${signal}: stopping child processes`);
    void cleanup().finally(() => process.exit(130));
  });
}

let exitCode = 1;
try {
  exitCode = await main(readSettings());
} catch (err) {
  // After Ctrl-C the failure is just the children going away; the signal handler reports and exits.
  if (!interrupted) console.error(`bench failed: ${(err as Error).message}`);
} finally {
  await cleanup();
}
process.exit(exitCode);
