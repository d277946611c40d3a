// The V8 settings the `tollgate` command runs with. `node` takes them only on its own command line (not
// from NODE_OPTIONS, not at run time), so they are written out where the command is started: the shebang
// of src/cli/index.ts and `npm start` (test/node-flags.test.ts keeps both equal to this list), and the
// bench's spawns, so the bench measures the command as it ships.
//
// Why (docs/benchmarks-2026-12.md, "One garbage-collector thread"): one garbage-collector thread. V8's helper threads add
// synchronisation, and on the few cores a gateway is usually given they compete with the event loop (and
// the ledger's writer) for the same CPUs. Measured on 2 cores at saturation, ten interleaved rounds: 154.4
// µs of CPU per request (median) without it, 145.7 with it. A larger young generation
// (`--max-semi-space-size=64`) saved a few µs more but held ~90 MB more memory with 1,000 open streams.
//
// One thread for the rest of V8's background work (`--v8-pool-size=1`, Node's default is 4): with one GC
// thread, what is left there is compiling, mostly TurboFan optimizing hot functions. Each thread that
// compiles gets a malloc arena of its own from glibc, which keeps the arena's high-water mark mapped after
// the compiler's zone memory is freed: the streams bench's first slow streams (new hot code) left two new
// arenas of 6.5 MB each (/proc/<pid>/smaps); with one compiling thread, its one arena grew by 5.5 MB. Measured with the streams bench
// (`node dist/bench/streams.js`, 1,000 streams, seven interleaved runs each way on 2 cores, 12-06): peak
// RSS 203.1 MB median (194.6-209.6) against 214.6 (210.0-223.8), idle before 150.3 against 154.0. CPU unchanged, in interleaved rounds
// against twin gateways: 236 and 243 µs per request at saturation against 245 and 254, 137 and 132 µs per
// streamed token against 138 and 133. More threads would not compile faster on the few cores a gateway
// is given, where the event loop and the ledger's writer need them.

/** Passed to `node` before the script: `node ${NODE_FLAGS.join(' ')} dist/cli/index.js …`. */
export const NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--v8-pool-size=1'];
