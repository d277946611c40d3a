// Turns measured phases into the reported figures: medians across rounds, added latency, CPU per request.
import type { LoadResult } from './load-protocol.js';
import { median } from './stats.js';

/**
 * Straight to the mock upstream, through the plain Node proxy (the floor for any Node gateway, see
 * plain-proxy.ts), or through a gateway keeping its counters in memory, in Redis, or in Redis with
 * budget leases (`leases`: `storage.lease_ms`, BENCH_LEASE_MS).
 */
export type PathName = 'direct' | 'plain' | 'memory' | 'redis' | 'leases';
/** Every path with a proxy process in it. */
export type ProxyPath = Exclude<PathName, 'direct'>;
export type GatewayPath = Exclude<ProxyPath, 'plain'>;
export const GATEWAY_PATHS: GatewayPath[] = ['memory', 'redis', 'leases'];

/** One measured run of one path, with the CPU both servers used during it. */
export interface Phase {
  path: PathName;
  round: number;
  result: LoadResult;
  /** The proxy process's CPU (gateway or plain proxy); NaN on the direct path. */
  gatewayCpuUs: number;
  mockCpuUs: number;
  /** Redis path with a private redis-server: its CPU during the phase. */
  redisCpuUs: number;
  /** Redis path: script calls (EVALSHA/EVAL) during the phase, one per network round trip. */
  redisCalls: number;
  /** CPU used by processes outside the bench during the phase, µs summed over cores. */
  otherCpuUs: number;
}

/** One path's figures across all rounds of a load shape. */
export interface PathFigures {
  rounds: number;
  requests: number;
  errors: number;
  /** Medians across rounds of each round's percentile, ms. */
  p50: number;
  p90: number;
  p99: number;
  /** Worst single request across all rounds, ms. */
  max: number;
  /** Median achieved requests/s, or total completed / total time for saturation. */
  rps: number;
  /** Open loop: medians of each round's send lateness, ms (already inside the latencies). */
  sendLagP50?: number;
  sendLagP99?: number;
  gatewayCpuUsPerReq: number;
  mockCpuUsPerReq: number;
  workerCpuUsPerReq: number;
  redisCpuUsPerReq: number;
  /** Redis round trips per request (script calls / requests). */
  redisRoundTrips: number;
  /** Average number of cores busy with processes outside the bench during these phases. */
  otherCores: number;
  firstError?: string;
}

/** Totals CPU across rounds before dividing: one round's tick count is too coarse alone. */
function perRequest(phases: Phase[], cpu: (p: Phase) => number): number {
  const requests = phases.reduce((s, p) => s + p.result.completed, 0);
  return requests ? phases.reduce((s, p) => s + cpu(p), 0) / requests : NaN;
}

/** Aggregates one path's phases. */
export function pathFigures(phases: Phase[], shape: 'open' | 'closed'): PathFigures | undefined {
  if (phases.length === 0) return undefined;
  const rs = phases.map((p) => p.result);
  const completed = rs.reduce((s, r) => s + r.completed, 0);
  const elapsed = rs.reduce((s, r) => s + r.elapsedSec, 0);
  return {
    rounds: rs.length,
    requests: completed,
    errors: rs.reduce((s, r) => s + r.errors, 0),
    p50: median(rs.map((r) => r.latency.p50)),
    p90: median(rs.map((r) => r.latency.p90)),
    p99: median(rs.map((r) => r.latency.p99)),
    max: Math.max(...rs.map((r) => r.latency.max)),
    rps: shape === 'open' ? median(rs.map((r) => r.achievedRps)) : completed / elapsed,
    ...(shape === 'open'
      ? { sendLagP50: median(rs.map((r) => r.sendLag?.p50 ?? NaN)), sendLagP99: median(rs.map((r) => r.sendLag?.p99 ?? NaN)) }
      : {}),
    gatewayCpuUsPerReq: perRequest(phases, (p) => p.gatewayCpuUs),
    mockCpuUsPerReq: perRequest(phases, (p) => p.mockCpuUs),
    workerCpuUsPerReq: perRequest(phases, (p) => p.result.workerCpuUs),
    redisCpuUsPerReq: perRequest(phases, (p) => p.redisCpuUs),
    redisRoundTrips: perRequest(phases, (p) => p.redisCalls),
    otherCores: phases.reduce((sum, p) => sum + p.otherCpuUs, 0) / 1e6 / elapsed,
    firstError: rs.find((r) => r.firstError)?.firstError,
  };
}

/** A proxy path minus `base` (direct, or the plain proxy), paired within each round (same minute, same noise), then the median over rounds. */
export function addedLatency(phases: Phase[], path: ProxyPath, base: PathName = 'direct'): { p50: number; p99: number } {
  const rounds = [...new Set(phases.map((p) => p.round))];
  const diffs = { p50: [] as number[], p99: [] as number[] };
  for (const round of rounds) {
    const d = phases.find((p) => p.round === round && p.path === base)?.result.latency;
    const g = phases.find((p) => p.round === round && p.path === path)?.result.latency;
    if (!d || !g) continue;
    diffs.p50.push(g.p50 - d.p50);
    diffs.p99.push(g.p99 - d.p99);
  }
  return { p50: median(diffs.p50), p99: median(diffs.p99) };
}

/** One informational target: the bench prints PASS/MISS but never fails on it. */
export interface Target {
  name: string;
  value: number;
  limit: number;
  unit: string;
  pass: boolean | null;
}

export function target(name: string, value: number, limit: number, unit: string): Target {
  return { name, value, limit, unit, pass: Number.isFinite(value) ? value <= limit : null };
}
