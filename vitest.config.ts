import { configDefaults, defineConfig } from 'vitest/config';

// Tests that hold the gateway to a time bound (a request answered within the Redis timeout + 50 ms):
// `npm test` runs them after the others, one file at a time, so the bound is measured on the gateway
// and not on a 2-core machine busy with a dozen other test processes (TOLLGATE_TIMED_TESTS=1 selects them).
// The garbage-per-call and heap-per-stream measurements run with them: in a process other files have used,
// their leftovers (timers, sockets, caches) allocate during the measurement (7.3 KB per call measured instead
// of ~5), or are collected during it (the straight-to-upstream baseline of a stream read 17.6 KB instead of 20.8).
const TIMED = ['test/hot-path-allocations.test.ts', 'test/stream-memory.test.ts', 'test/redis-last-primary.test.ts', 'test/redis-failures.test.ts', 'test/redis-resilience.test.ts', 'test/redis-sentinel.test.ts', 'test/redis-sentinel-gateway.test.ts', 'test/redis-rebuild-wait.test.ts', 'test/redis-cluster-reshard.test.ts', 'test/redis-cluster-failover.test.ts', 'test/leases-flush-gateways.test.ts', 'test/leases-failover-gateways.test.ts'];
const timedRun = process.env.TOLLGATE_TIMED_TESTS === '1';

export default defineConfig({
  test: {
    include: timedRun ? TIMED : ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(timedRun ? [] : TIMED)],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real processes on fixed-free ports; files run in parallel workers. Three of
    // them even on a 2-core machine (vitest's default there is one): most files wait on processes, sockets
    // and timers, not the CPU (the untimed files took 578 s with one worker and 406 s with two, on 12-05;
    // 561 s with two and 455 s with three, using 1.5 of the 2 cores, on 12-07; with three, CI's whole run
    // used 1.32 cores on average, 12-07 evening; four workers took it to 11m39 once, and then failed a
    // concurrency test whose calls no longer overlapped on the busier host).
    pool: 'forks',
    maxWorkers: timedRun ? 1 : 3,
    // As many kept as started: tinypool ends a worker left idle beyond minWorkers without waiting for it, and
    // that ending can fail the run with an unhandled "Terminating worker thread" once every test has passed
    // (vitest-dev/vitest#8564; seen here with three workers and the default minimum of one).
    minWorkers: timedRun ? 1 : 3,
    // Files share their worker process (a fresh one per file cost ~0.4 s of start-up and imports each: the
    // untimed files took 377 s isolated and 261 s shared, on 12-05). Safe because no test leaves a module
    // mocked, a fake timer or an environment change behind; a test that must do so restores it in afterEach.
    // The timed files keep a process each: nothing left over from another file may share their event loop.
    isolate: timedRun,
    fileParallelism: !timedRun,
  },
});
