// The bench's outputs: the results document written to .bench/results.json and the table printed to stdout.
import type { PathFigures, Phase, Target } from './figures.js';
import type { Settings } from './settings.js';

/** Everything one run measured; also the shape of .bench/results.json. */
export interface BenchResults {
  timestamp: string;
  machine: { cpuModel: string; cores: number; totalMemoryBytes: number; node: string; platform: string; loadAvgAtStart: number[] };
  settings: Settings;
  gatewayError?: string;
  openLoop: { rate: number; direct?: PathFigures; gateway?: PathFigures; addedLatencyMs: { p50: number; p99: number }; phases: Phase[] };
  saturation: { concurrency: number; direct?: PathFigures; gateway?: PathFigures; rpsRatio: number; phases: Phase[] };
  gatewayMemory?: { rssBytes: number; peakRssBytes: number };
  targets: Target[];
}

const fmt = (x: number | undefined, digits = 2): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const signed = (x: number): string => (Number.isFinite(x) ? (x >= 0 ? '+' : '') + x.toFixed(2) : 'n/a');
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

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
  if (r.gatewayError) out.push(`\n!! GATEWAY NOT MEASURED: ${r.gatewayError}`);

  const o = r.openLoop;
  out.push(`\nOpen loop: ${o.rate} req/s, ${s.openRounds} rounds × ${s.openRoundSeconds} s per path, paths interleaved`);
  out.push('(ms from each request\'s scheduled send time; median over rounds; max = worst over all rounds;');
  out.push(' send lag = how late the generator started requests, already inside the latencies;');
  out.push(' other load = cores busy with processes outside the bench, averaged over the phases)');
  const openRow = (name: string, f?: PathFigures): string[] =>
    f
      ? [name, fmt(f.p50), fmt(f.p90), fmt(f.p99), fmt(f.max), String(f.errors), fmt(f.rps, 0), `${fmt(f.sendLagP50)} / ${fmt(f.sendLagP99)}`, fmt(f.otherCores)]
      : [name, 'n/a'];
  out.push(
    table([
      ['path', 'p50', 'p90', 'p99', 'max', 'errors', 'req/s', 'send lag p50/p99', 'other load'],
      openRow('direct', o.direct),
      openRow('gateway', o.gateway),
      ['added (gw − direct)', signed(o.addedLatencyMs.p50), '', signed(o.addedLatencyMs.p99), '', '', '', '', ''],
    ]),
  );

  const sat = r.saturation;
  out.push(`\nSaturation: closed loop, ${sat.concurrency} connections, ${s.satRounds} round(s) × ${s.satRoundSeconds} s per path`);
  const satRow = (name: string, f?: PathFigures): string[] =>
    f ? [name, fmt(f.rps, 0), fmt(f.p50), fmt(f.p99), String(f.errors), fmt(f.otherCores)] : [name, 'n/a'];
  out.push(
    table([
      ['path', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'other load'],
      satRow('direct', sat.direct),
      satRow('gateway', sat.gateway),
      ['gateway / direct', fmt(sat.rpsRatio), '', '', '', ''],
    ]),
  );

  out.push('\nCPU per request (µs, from /proc utime+stime over each phase)');
  out.push(
    table([
      ['process', `@${o.rate} req/s`, '@saturation'],
      ['gateway', fmt(o.gateway?.gatewayCpuUsPerReq, 1), fmt(sat.gateway?.gatewayCpuUsPerReq, 1)],
      ['mock upstream, direct path (floor for any proxy)', fmt(o.direct?.mockCpuUsPerReq, 1), fmt(sat.direct?.mockCpuUsPerReq, 1)],
      ['mock upstream, behind gateway', fmt(o.gateway?.mockCpuUsPerReq, 1), fmt(sat.gateway?.mockCpuUsPerReq, 1)],
      ['load generator, gateway path (info)', fmt(o.gateway?.workerCpuUsPerReq, 1), fmt(sat.gateway?.workerCpuUsPerReq, 1)],
    ]),
  );
  if (r.gatewayMemory) out.push(`\nGateway memory after the run: RSS ${mib(r.gatewayMemory.rssBytes)} (peak ${mib(r.gatewayMemory.peakRssBytes)})`);

  out.push('\nTargets (informational; the bench never fails on them)');
  out.push(
    table(
      r.targets.map((t) => [t.name, `${fmt(t.value)} ${t.unit}`, `≤ ${t.limit} ${t.unit}`, t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'MISS']),
    ),
  );

  const errors = [
    ['direct, open loop', o.direct?.firstError],
    ['gateway, open loop', o.gateway?.firstError],
    ['direct, saturation', sat.direct?.firstError],
    ['gateway, saturation', sat.gateway?.firstError],
  ].filter(([, e]) => e);
  if (errors.length) out.push('\nFirst error seen:\n' + errors.map(([where, e]) => `  ${where}: ${e}`).join('\n'));
  return out.join('\n');
}
