// The bench's outputs: the results document written to .bench/results.json and the table printed to stdout.
import type { GatewayPath, PathFigures, PathName, Phase, ProxyPath, Target } from './figures.js';
import type { Settings } from './settings.js';

type PerPath<T> = Partial<Record<PathName, T>>;
type PerGateway<T> = Partial<Record<GatewayPath, T>>;
type PerProxy<T> = Partial<Record<ProxyPath, T>>;

/** Everything one run measured; also the shape of .bench/results.json. */
export interface BenchResults {
  timestamp: string;
  machine: { cpuModel: string; cores: number; totalMemoryBytes: number; node: string; platform: string; loadAvgAtStart: number[] };
  settings: Settings;
  /** Gateway paths that could not be measured, and why. */
  gatewayErrors: PerGateway<string>;
  openLoop: {
    rate: number;
    paths: PerPath<PathFigures>;
    addedLatencyMs: PerProxy<{ p50: number; p99: number }>;
    /** A gateway path minus the plain Node proxy: the latency Tollgate's own work adds. */
    overPlainMs: PerGateway<{ p50: number; p99: number }>;
    phases: Phase[];
  };
  saturation: { concurrency: number; paths: PerPath<PathFigures>; rpsRatio: PerProxy<number>; phases: Phase[] };
  gatewayMemory: PerGateway<{ rssBytes: number; peakRssBytes: number }>;
  targets: Target[];
}

const fmt = (x: number | undefined, digits = 2): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const signed = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? (x >= 0 ? '+' : '') + x.toFixed(2) : 'n/a');
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
const LABEL: Record<PathName, string> = {
  direct: 'direct',
  plain: 'plain Node proxy (floor)',
  memory: 'gateway, memory counters',
  redis: 'gateway, Redis counters',
  leases: 'gateway, Redis counters + leases',
};
const PATHS: PathName[] = ['direct', 'plain', 'memory', 'redis', 'leases'];
const PROXIES: ProxyPath[] = ['plain', 'memory', 'redis', 'leases'];
const GATEWAYS: GatewayPath[] = ['memory', 'redis', 'leases'];
const ON_REDIS: GatewayPath[] = ['redis', 'leases'];

/** Lays out rows with the first column left-aligned and the rest right-aligned. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   '))
    .join('\n');
}

/** The human-readable summary. */
export function renderReport(r: BenchResults): string {
  const s = r.settings;
  const m = r.machine;
  const out: string[] = [];
  out.push(`Tollgate bench  ${r.timestamp}${s.quick ? '  (BENCH_QUICK)' : ''}`);
  out.push(`Machine: ${m.cpuModel} · ${m.cores} cores · ${mib(m.totalMemoryBytes)} · node ${m.node} · load avg ${m.loadAvgAtStart.map((x) => x.toFixed(2)).join(' ')}`);
  for (const [path, why] of Object.entries(r.gatewayErrors)) out.push(`\n!! ${LABEL[path as GatewayPath].toUpperCase()} NOT MEASURED: ${why}`);

  const o = r.openLoop;
  out.push(`\nOpen loop: ${o.rate} req/s, ${s.openRounds} rounds × ${s.openRoundSeconds} s per path, paths interleaved`);
  out.push('(ms from each request\'s scheduled send time; median over rounds; max = worst over all rounds;');
  out.push(' send lag = how late the generator started requests, already inside the latencies;');
  out.push(' other load = cores busy with processes outside the bench, averaged over the phases;');
  out.push(' plain Node proxy = node:http + undici and nothing else: what any Node gateway adds on this machine)');
  const openRow = (path: PathName, f?: PathFigures): string[] =>
    f
      ? [LABEL[path], fmt(f.p50), fmt(f.p90), fmt(f.p99), fmt(f.max), String(f.errors), fmt(f.rps, 0), `${fmt(f.sendLagP50)} / ${fmt(f.sendLagP99)}`, fmt(f.otherCores)]
      : [LABEL[path], 'n/a'];
  out.push(
    table([
      ['path', 'p50', 'p90', 'p99', 'max', 'errors', 'req/s', 'send lag p50/p99', 'other load'],
      ...PATHS.filter((p) => o.paths[p]).map((p) => openRow(p, o.paths[p])),
      ...PROXIES.filter((g) => o.addedLatencyMs[g]).map((g) => [`added, ${g} (− direct)`, signed(o.addedLatencyMs[g]?.p50), '', signed(o.addedLatencyMs[g]?.p99), '', '', '', '', '']),
      ...GATEWAYS.filter((g) => o.overPlainMs[g]).map((g) => [`${g} − plain Node proxy`, signed(o.overPlainMs[g]?.p50), '', signed(o.overPlainMs[g]?.p99), '', '', '', '', '']),
    ]),
  );

  const sat = r.saturation;
  out.push(`\nSaturation: closed loop, ${sat.concurrency} connections, ${s.satRounds} round(s) × ${s.satRoundSeconds} s per path`);
  const satRow = (path: PathName, f?: PathFigures): string[] =>
    f ? [LABEL[path], fmt(f.rps, 0), fmt(f.p50), fmt(f.p99), String(f.errors), fmt(f.otherCores)] : [LABEL[path], 'n/a'];
  out.push(
    table([
      ['path', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'other load'],
      ...PATHS.filter((p) => sat.paths[p]).map((p) => satRow(p, sat.paths[p])),
      ...PROXIES.filter((g) => sat.rpsRatio[g] !== undefined).map((g) => [`${g} / direct`, fmt(sat.rpsRatio[g]), '', '', '', '']),
    ]),
  );

  const measured = GATEWAYS.filter((g) => o.paths[g] || sat.paths[g]);
  out.push('\nCPU per request (µs, from /proc utime+stime over each phase)');
  out.push(
    table([
      ['process', `@${o.rate} req/s`, '@saturation'],
      ...measured.map((g) => [`gateway, ${g} counters`, fmt(o.paths[g]?.gatewayCpuUsPerReq, 1), fmt(sat.paths[g]?.gatewayCpuUsPerReq, 1)]),
      ['plain Node proxy (floor for a Node proxy)', fmt(o.paths.plain?.gatewayCpuUsPerReq, 1), fmt(sat.paths.plain?.gatewayCpuUsPerReq, 1)],
      ...ON_REDIS.filter((g) => o.paths[g] || sat.paths[g]).map((g) => [`redis-server, ${g} path (info)`, fmt(o.paths[g]?.redisCpuUsPerReq, 1), fmt(sat.paths[g]?.redisCpuUsPerReq, 1)]),
      ['mock upstream, direct path (floor for any proxy)', fmt(o.paths.direct?.mockCpuUsPerReq, 1), fmt(sat.paths.direct?.mockCpuUsPerReq, 1)],
      ...measured.map((g) => [`mock upstream, behind ${g} gateway`, fmt(o.paths[g]?.mockCpuUsPerReq, 1), fmt(sat.paths[g]?.mockCpuUsPerReq, 1)]),
    ]),
  );
  for (const g of ON_REDIS.filter((p) => o.paths[p] || sat.paths[p])) {
    out.push(`${g === 'redis' ? '\n' : ''}Redis round trips per request, ${g} path (EVALSHA/EVAL calls ÷ requests): ${fmt(o.paths[g]?.redisRoundTrips)} @${o.rate} req/s, ${fmt(sat.paths[g]?.redisRoundTrips)} @saturation`);
  }
  for (const g of GATEWAYS) {
    const mem = r.gatewayMemory[g];
    if (mem) out.push(`Gateway (${g} counters) memory after the run: RSS ${mib(mem.rssBytes)} (peak ${mib(mem.peakRssBytes)})`);
  }

  out.push('\nTargets (informational; the bench never fails on them)');
  out.push(
    table(
      r.targets.map((t) => [t.name, `${fmt(t.value)} ${t.unit}`, `≤ ${t.limit} ${t.unit}`, t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'MISS']),
    ),
  );

  const errors: Array<[string, string | undefined]> = [];
  for (const p of PATHS) {
    errors.push([`${LABEL[p]}, open loop`, o.paths[p]?.firstError], [`${LABEL[p]}, saturation`, sat.paths[p]?.firstError]);
  }
  const seen = errors.filter(([, e]) => e);
  if (seen.length) out.push('\nFirst error seen:\n' + seen.map(([where, e]) => `  ${where}: ${e}`).join('\n'));
  return out.join('\n');
}
