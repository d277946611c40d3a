// Bench knobs from the environment (listed in the README's Benchmarks). A whole `npm run bench` takes
// ~14 minutes with the defaults and ~4.5 with BENCH_QUICK=1 (the ledger and streams phases included).

/** How long and how hard each part of the bench runs. */
export interface Settings {
  quick: boolean;
  /** Open-loop fixed rate, requests/s. */
  rate: number;
  /** Open-loop rounds per path and seconds per round (paths interleave within each round). */
  openRounds: number;
  openRoundSeconds: number;
  /** Saturation (closed loop) rounds per path, seconds per round and concurrent connections. */
  satRounds: number;
  satRoundSeconds: number;
  concurrency: number;
  /** Requests per path before anything is measured, so both processes are JIT-compiled. */
  warmupRequests: number;
  /** Skip the gateway entirely (to validate the load generator alone). */
  directOnly: boolean;
  /** `storage.lease_ms` of the Redis-with-leases gateway. */
  leaseMs: number;
}

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw}: expected a positive number`);
  return n;
}

/** Reads BENCH_* variables. */
export function readSettings(): Settings {
  const quick = process.env.BENCH_QUICK === '1';
  const openRounds = Math.round(num('BENCH_ROUNDS', quick ? 2 : 4));
  const satRounds = quick ? 1 : 2;
  return {
    quick,
    rate: num('BENCH_RATE', 500),
    openRounds,
    openRoundSeconds: num('BENCH_SECONDS', quick ? 4 : 20) / openRounds,
    satRounds,
    satRoundSeconds: num('BENCH_SAT_SECONDS', quick ? 3 : 10) / satRounds,
    concurrency: Math.round(num('BENCH_CONCURRENCY', 64)),
    warmupRequests: Math.round(num('BENCH_WARMUP', quick ? 1000 : 3000)),
    directOnly: process.env.BENCH_DIRECT_ONLY === '1',
    leaseMs: Math.round(num('BENCH_LEASE_MS', 1000)),
  };
}
