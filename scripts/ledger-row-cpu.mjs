#!/usr/bin/env node
// CPU per ledger row, per thread, for the embedded SQLite ledger: rows go through the LedgerWriter as the
// gateway's do (packed on the event loop, written by the writer thread in batches as large as one flush
// interval holds at the bench's rate), and each thread's CPU is read from /proc (schedstat, ns) over the
// whole run. Whole-run figures, not per-batch ones: a running thread's schedstat only catches up at the
// next scheduler event, which waking the writer thread is, so per-batch readings blame the hand-over for
// the CPU spent before it.
//
//   npm run build && node scripts/ledger-row-cpu.mjs [--rows 200000] [--batch 800] [--dist dist]
//
// Prints ns per row: the event loop (building the row objects, measured alone first, subtracted), the
// writer thread (user and system time apart: system is SQLite's WAL writes) and the other threads.
// Run it with `node --single-threaded-gc`, as `tollgate` runs the gateway, for the gateway's figures.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { rows: { type: 'string', default: '200000' }, batch: { type: 'string', default: '800' }, dist: { type: 'string', default: 'dist' } },
});
const rowCount = Number(args.rows);
const batch = Number(args.batch);
const dist = resolve(args.dist);
const { SqliteLedger } = await import(join(dist, 'ledger/sqlite-ledger.js'));
const { LedgerWriter } = await import(join(dist, 'ledger/batch-writer.js'));

// The bench's call (src/bench/bench-config.ts): one key, one route, every limit kind, a priced model.
const groups = ['g1'];
const limits = ['org:default:daily', 'org:default:monthly', 'project:bench:daily', 'user:bench:daily', 'group:g1:daily', 'group:g1:monthly', 'route:bench:input', 'route:bench:output'];
let ts = Date.now();
let n = 0;
const row = () => ({
  ts: ts++, requestId: `req_mbx3k2_${(n++).toString(36)}`, organization: 'default', project: 'bench', user: 'bench', keyId: 'bench', groups, route: 'bench',
  modelId: 'gpt-4o', provider: 'up', model: 'gpt-4o', endpoint: 'chat', stream: false, streamEnd: null, tags: {}, status: 200, decision: 'admitted',
  blockedBy: null, limits, shadowBlocked: [], fallback: null, inputTokens: 27, outputTokens: 32, cachedInputTokens: 0, cacheWriteInputTokens: 0,
  cacheWrite1hInputTokens: 0, reservedInput: 27, reservedOutput: 32, costUsd: 0.0003875, inputCostUsd: 0.0000675, toolFeesUsd: 0, serviceTier: null,
  usageSource: 'provider', latencyMs: Math.round(1234 + (n % 1000)) / 1000, upstreamLatencyMs: Math.round(987 + (n % 777)) / 1000, providerResponseId: null,
  // As rowFromCall sets them: left undefined they pack as null, which the NOT NULL audio columns refuse, and
  // INSERT OR IGNORE skipped every row (the writer's figures were for rows it never stored).
  inferenceGeo: null, audioInputTokens: 0, audioOutputTokens: 0,
});

/** CPU ns of each thread of this process, and its user and system clock ticks. */
function threads() {
  return Object.fromEntries(
    readdirSync('/proc/self/task').map((tid) => {
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      return [tid, { ns, user: Number(stat[11]), system: Number(stat[12]) }];
    }),
  );
}

const dir = mkdtempSync(join(os.tmpdir(), 'tollgate-row-cpu-'));
const ledger = new SqliteLedger(join(dir, 'ledger.db'));
await ledger.init();
const writer = new LedgerWriter(ledger, { flushIntervalMs: 60_000, batchSize: 1_000_000, maxBufferedRows: 10_000_000 });
const run = async (push) => {
  for (let done = 0; done < rowCount; done += batch) {
    for (let i = 0; i < batch; i++) push(row());
    await writer.flush();
  }
};
const main = String(process.pid);
const cpuOf = async (push) => {
  const before = threads();
  await run(push);
  const after = threads();
  return Object.fromEntries(Object.keys(after).map((tid) => [tid, { ns: after[tid].ns - (before[tid]?.ns ?? 0), user: after[tid].user - (before[tid]?.user ?? 0), system: after[tid].system - (before[tid]?.system ?? 0) }]));
};
await run((r) => writer.push(r)); // warm-up: JIT, the file's first pages
const building = (await cpuOf(() => {}))[main].ns / rowCount;
const cpu = await cpuOf((r) => writer.push(r));
// The writer thread is the one that spent most, after the event loop.
const [writerTid] = Object.keys(cpu).filter((t) => t !== main).sort((a, b) => cpu[b].ns - cpu[a].ns);
const tickNs = 1e9 / 100;
const perRow = (ns) => Math.round(ns / rowCount);
const others = Object.keys(cpu).filter((t) => t !== main && t !== writerTid).reduce((sum, t) => sum + cpu[t].ns, 0);
console.log(JSON.stringify({
  rows: rowCount,
  batch,
  eventLoopNsPerRow: perRow(cpu[main].ns) - Math.round(building),
  writerThreadNsPerRow: perRow(cpu[writerTid].ns),
  writerUserNsPerRow: perRow(cpu[writerTid].user * tickNs),
  writerSystemNsPerRow: perRow(cpu[writerTid].system * tickNs),
  otherThreadsNsPerRow: perRow(others),
}));
await writer.close();
await ledger.close();
rmSync(dir, { recursive: true, force: true });
