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

/** Passed to `node` before the script: `node ${NODE_FLAGS.join(' ')} dist/cli/index.js …`. */
export const NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];
