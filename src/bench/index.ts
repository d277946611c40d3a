// `npm run bench`: direct-to-mock vs through a plain Node proxy (the floor for any Node gateway) vs through
// the gateway with memory counters, with Redis counters, and with Redis counters and budget leases:
// latency, throughput, CPU per request and Redis round trips, all measured in one run (interleaved rounds,
// since the machine is noisy). Writes .bench/results.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_BODY, benchConfigYaml } from './bench-config.js';
import { startBenchRedis, type BenchRedis } from './bench-redis.js';
import { killAllNow, spawnCli, spawnScript, stopAll, type CliProcess } from './children.js';
import { addedLatency, GATEWAY_PATHS, pathFigures, target, type GatewayPath, type PathName, type Phase } from './figures.js';
import { describeLedgerResult, LEDGER_MAX_LOSS, measureLedgerOverhead } from './ledger-bench.js';
import { LoadClient } from './load-client.js';
import type { LoadJob, LoadTarget } from './load-protocol.js';
import { cpuMicros, machineBusyMicros, memory } from './proc-stats.js';
import { renderReport, type BenchResults } from './report.js';
import { readSettings, type Settings } from './settings.js';
import { renderStreamFigures, runStreamBench, streamBenchOptions } from './streams.js';

const CHAT_PATH = '/v1/chat/completions';
const PLAIN_PROXY = fileURLToPath(new URL('./plain-proxy.js', import.meta.url));
const RESULTS_FILE = join('.bench', 'results.json');
// A short idle gap between phases so one phase's GC and socket churn do not bleed into the next.
const SETTLE_MS = 300;

let tmpDir: string | undefined;
let load: LoadClient | undefined;
let redis: BenchRedis | undefined;
let interrupted = false;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const progress = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

async function startGateway(path: GatewayPath, mockUrl: string, counters: string, leaseMs: number): Promise<CliProcess> {
  tmpDir ??= mkdtempSync(join(os.tmpdir(), 'tollgate-bench-'));
  const config = join(tmpDir, `tollgate-${path}.yaml`);
  writeFileSync(config, benchConfigYaml(mockUrl, counters, leaseMs));
  return spawnCli(`gateway (${path})`, ['serve', '--config', config, '--host', '127.0.0.1', '--port', '0'], { TOLLGATE_LOG_LEVEL: 'warn' });
}

/** Runs one job and charges each server the CPU it used meanwhile (`gateway`: the path's proxy process, if any). */
async function measure(path: PathName, round: number, job: LoadJob, mock: CliProcess, gateway?: CliProcess): Promise<Phase> {
  await sleep(SETTLE_MS);
  const onRedis = (path === 'redis' || path === 'leases') && redis !== undefined;
  const g0 = gateway ? cpuMicros(gateway.pid) : 0;
  const m0 = cpuMicros(mock.pid);
  const r0 = onRedis && redis!.pid ? cpuMicros(redis!.pid) : 0;
  const c0 = onRedis ? await redis!.scriptCalls() : 0;
  const b0 = machineBusyMicros();
  const result = await load!.run(job);
  const gatewayCpuUs = gateway ? cpuMicros(gateway.pid) - g0 : 0;
  const mockCpuUs = cpuMicros(mock.pid) - m0;
  const redisCpuUs = onRedis && redis!.pid ? cpuMicros(redis!.pid) - r0 : 0;
  const busy = machineBusyMicros() - b0;
  const redisCalls = onRedis ? (await redis!.scriptCalls()) - c0 : NaN;
  // Whatever else ran meanwhile (other builds and tests on a shared box) competed for the same cores.
  const otherCpuUs = Math.max(0, busy - gatewayCpuUs - mockCpuUs - redisCpuUs - result.workerCpuUs);
  return {
    path,
    round,
    result,
    gatewayCpuUs: gateway ? gatewayCpuUs : NaN,
    mockCpuUs,
    redisCpuUs: onRedis && redis!.pid ? redisCpuUs : NaN,
    redisCalls,
    otherCpuUs,
  };
}

/** Rotates the order of paths each round, so a slow drift in the machine hits every path alike. */
function orderFor(round: number, paths: PathName[]): PathName[] {
  const k = round % paths.length;
  return [...paths.slice(k), ...paths.slice(0, k)];
}

async function main(s: Settings): Promise<number> {
  const startedAt = new Date();
  const loadAvgAtStart = os.loadavg();
  progress('starting mock upstream');
  const mock = await spawnCli('mock upstream', ['mock-upstream', '--host', '127.0.0.1', '--port', '0', '--latency-ms', '0', '--output-tokens', '16']);
  const gateways: Partial<Record<GatewayPath, CliProcess>> = {};
  const gatewayErrors: Partial<Record<GatewayPath, string>> = {};
  let plain: CliProcess | undefined;
  if (!s.directOnly) {
    progress('starting the plain Node proxy');
    plain = await spawnScript('plain Node proxy', PLAIN_PROXY, [mock.url, 'sk-bench']);
    for (const path of GATEWAY_PATHS) {
      progress(`starting gateway with ${path} counters`);
      try {
        if (path === 'memory') gateways[path] = await startGateway(path, mock.url, 'memory', 0);
        else {
          // Both Redis gateways share one redis-server; phases run one at a time.
          redis ??= await startBenchRedis();
          gateways[path] = await startGateway(path, mock.url, redis.url, path === 'leases' ? s.leaseMs : 0);
        }
      } catch (err) {
        gatewayErrors[path] = (err as Error).message;
      }
    }
  }
  load = LoadClient.start();

  const gatewayTarget = (path: GatewayPath): LoadTarget => ({ origin: gateways[path]?.url ?? '', path: CHAT_PATH, authorization: 'Bearer tg-bench', body: BENCH_BODY });
  const targets: Record<PathName, LoadTarget> = {
    direct: { origin: mock.url, path: CHAT_PATH, authorization: 'Bearer sk-bench', body: BENCH_BODY },
    plain: { origin: plain?.url ?? '', path: CHAT_PATH, authorization: 'Bearer sk-bench', body: BENCH_BODY },
    memory: gatewayTarget('memory'),
    redis: gatewayTarget('redis'),
    leases: gatewayTarget('leases'),
  };

  // One request per path first: a broken path should say why, not produce a table of errors.
  const probe = async (path: PathName): Promise<string | undefined> => {
    const r = await load!.run({ kind: 'closed', target: targets[path], concurrency: 1, seconds: 10, maxRequests: 1 });
    return r.ok === 1 ? undefined : r.firstError ?? 'no answer';
  };
  const directProblem = await probe('direct');
  if (directProblem) throw new Error(`the mock upstream does not answer ${CHAT_PATH}: ${directProblem}\n${mock.tail()}`);
  const plainProblem = plain && (await probe('plain'));
  if (plainProblem) throw new Error(`the plain Node proxy does not answer ${CHAT_PATH}: ${plainProblem}\n${plain!.tail()}`);
  for (const path of GATEWAY_PATHS) {
    const gateway = gateways[path];
    if (!gateway) continue;
    const problem = await probe(path);
    if (problem) {
      gatewayErrors[path] = `${CHAT_PATH} through the gateway failed: ${problem}\n${gateway.tail()}`;
      delete gateways[path];
    }
  }
  for (const [path, why] of Object.entries(gatewayErrors)) progress(`GATEWAY (${path}) NOT MEASURED:\n${why}`);
  const paths: PathName[] = ['direct', ...(plain ? ['plain' as const] : []), ...GATEWAY_PATHS.filter((p) => gateways[p])];
  const gatewayOf = (path: PathName): CliProcess | undefined => (path === 'direct' ? undefined : path === 'plain' ? plain : gateways[path]);

  for (const path of paths) {
    progress(`warm-up: ${s.warmupRequests} requests ${path}`);
    await load.run({ kind: 'closed', target: targets[path], concurrency: s.concurrency, seconds: 120, maxRequests: s.warmupRequests });
  }

  const open: Phase[] = [];
  for (let round = 0; round < s.openRounds; round++) {
    for (const path of orderFor(round, paths)) {
      const job: LoadJob = { kind: 'open', target: targets[path], rate: s.rate, seconds: s.openRoundSeconds };
      const phase = await measure(path, round, job, mock, gatewayOf(path));
      open.push(phase);
      const l = phase.result.latency;
      progress(`open loop round ${round + 1}/${s.openRounds} ${path}: p50 ${l.p50.toFixed(2)} p99 ${l.p99.toFixed(2)} ms, ${phase.result.errors} errors`);
    }
  }

  const sat: Phase[] = [];
  for (let round = 0; round < s.satRounds; round++) {
    for (const path of orderFor(round, paths)) {
      const job: LoadJob = { kind: 'closed', target: targets[path], concurrency: s.concurrency, seconds: s.satRoundSeconds };
      const phase = await measure(path, round, job, mock, gatewayOf(path));
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
    gatewayErrors,
    openLoop: { rate: s.rate, paths: {}, addedLatencyMs: {}, overPlainMs: {}, phases: open },
    saturation: { concurrency: s.concurrency, paths: {}, rpsRatio: {}, phases: sat },
    gatewayMemory: {},
    targets: [],
  };
  const { openLoop: o, saturation: z } = results;
  for (const path of paths) {
    o.paths[path] = pathFigures(of(open, path), 'open');
    z.paths[path] = pathFigures(of(sat, path), 'closed');
  }
  for (const path of paths) {
    if (path === 'direct') continue;
    o.addedLatencyMs[path] = addedLatency(open, path);
    if (path !== 'plain' && plain) o.overPlainMs[path] = addedLatency(open, path, 'plain');
    z.rpsRatio[path] = (z.paths[path]?.rps ?? NaN) / (z.paths.direct?.rps ?? NaN);
  }
  for (const path of GATEWAY_PATHS) {
    const gateway = gateways[path];
    if (!gateway) continue;
    const m = memory(gateway.pid);
    results.gatewayMemory[path] = { rssBytes: m.rss, peakRssBytes: m.peakRss };
  }
  // Memory: the gateway core's own targets. Redis, with leases or not: issue #3's (at most one reserve and
  // one settle round trip).
  const onRedis = { cpu: 200, p50: 0.5, p99: 1.5 };
  const limits: Record<GatewayPath, { cpu: number; p50: number; p99: number }> = { memory: { cpu: 150, p50: 0.3, p99: 1 }, redis: onRedis, leases: onRedis };
  for (const path of GATEWAY_PATHS) {
    if (!gateways[path]) continue;
    const l = limits[path];
    // The CPU target is per request at saturation (the issues' throughput run). At a fixed 500 req/s every
    // request also pays for waking an idle process (the mock upstream's own CPU per request triples there),
    // so that figure is shown in the CPU table but is not held to the same number.
    results.targets.push(
      target(`${path}: gateway CPU @saturation`, z.paths[path]?.gatewayCpuUsPerReq ?? NaN, l.cpu, 'µs/req'),
      target(`${path}: added latency p50 @${s.rate} req/s`, o.addedLatencyMs[path]?.p50 ?? NaN, l.p50, 'ms'),
      target(`${path}: added latency p99 @${s.rate} req/s`, o.addedLatencyMs[path]?.p99 ?? NaN, l.p99, 'ms'),
    );
  }
  for (const path of ['redis', 'leases'] as const) {
    if (gateways[path]) results.targets.push(target(`${path}: round trips per request`, o.paths[path]?.redisRoundTrips ?? NaN, 2, ''));
  }
  // Ledger on vs off (issue #4): four more gateways, same mock upstream and load generator. Many short
  // paired rounds: on a shared machine the median of paired ratios is steadier than a few long rounds.
  const ledgerRound = { rounds: 6 * s.satRounds, roundSeconds: Math.ceil(s.satRoundSeconds / 2) };
  const ledger = await measureLedgerOverhead({ mockUrl: mock.url, load: load!, concurrency: s.concurrency, ...ledgerRound, warmupRequests: s.warmupRequests, rate: s.rate, progress });
  Object.assign(results, { ledger });
  results.targets.push(target('ledger on: throughput lost vs ledger off', 1 - ledger.rpsRatio, LEDGER_MAX_LOSS, ''));
  progress(describeLedgerResult(ledger));
  // Streaming (issue #5): 1,000 concurrent slow streams through a fresh gateway; its RSS before, at peak, after.
  const streams = await runStreamBench(mock.url, streamBenchOptions(), progress);
  Object.assign(results, { streams });
  results.targets.push(target(`streams: gateway peak RSS with ${streams.streams} open`, streams.gatewayRssPeakBytes / 1048576, 200, 'MB'));

  mkdirSync('.bench', { recursive: true });
  // Infinity/NaN are not JSON; null says "not measured".
  writeFileSync(RESULTS_FILE, JSON.stringify(results, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  console.log(renderReport(results));
  console.log(`\n${describeLedgerResult(ledger)}`);
  console.log(`\n${renderStreamFigures(streams)}`);
  console.log(`\nWrote ${RESULTS_FILE}`);
  return Object.keys(gatewayErrors).length > 0 ? 1 : 0;
}

async function cleanup(): Promise<void> {
  load?.close();
  await redis?.close().catch(() => {});
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
