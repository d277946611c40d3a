#!/usr/bin/env node
// How long a gateway keeps other requests waiting while it rebuilds lost counters from a big ledger: serves
// a config written by seed-ledger.mjs with its counters in Redis, flushes that Redis database, and polls
// /healthz every 10 ms while one call is retried until it is admitted again (the rebuild is done):
//
//   node scripts/seed-ledger.mjs --rows 450000 --days 0.0104167 --ledger postgres://postgres@127.0.0.1:5432/tg_lk --config /tmp/lk/tollgate.yaml --port 4700
//   (set `storage.counters: "redis://127.0.0.1:6379/7"` in that config)
//   node scripts/rebuild-wait.mjs --config /tmp/lk/tollgate.yaml --port 4700 --redis-db 7 [--dist dist]
//
// Prints the longest /healthz wait and how long the call took to be admitted after the flush.
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    config: { type: 'string' },
    port: { type: 'string' },
    'redis-db': { type: 'string' },
    dist: { type: 'string', default: 'dist' },
    key: { type: 'string', default: 'tg-seed-0' },
    model: { type: 'string', default: 'chat-0' },
  },
});
if (!args.config || !args.port || !args['redis-db']) throw new Error('give --config FILE --port N --redis-db N (the port and database the config names)');
const base = `http://127.0.0.1:${args.port}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const gateway = spawn('node', [path.join(args.dist, 'cli/index.js'), 'serve', '--config', args.config], {
  env: { ...process.env, TOLLGATE_ADMIN_KEY: process.env.TOLLGATE_ADMIN_KEY ?? 'rebuild-wait-admin-key', TOLLGATE_LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
gateway.stdout.on('data', (d) => (output += d));
gateway.stderr.on('data', (d) => (output += d));
const rebuilds = () => output.split('\n').filter((l) => l.includes('counters rebuilt from the ledger')).length;
try {
  for (let i = 0; i < 600 && !output.includes('listening'); i++) await sleep(100);
  if (!output.includes('listening')) throw new Error(`the gateway did not start:\n${output}`);
  // The start-up rebuild (memory of the flush before, or counters Redis has not seen) is not measured.
  const chat = () =>
    fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${args.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: args.model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    }).then((r) => r.status);
  const admittedWithin = async (ms) => {
    const t0 = performance.now();
    for (;;) {
      if ((await chat()) === 200) return performance.now() - t0;
      if (performance.now() - t0 > ms) throw new Error(`no call admitted within ${ms} ms:\n${output}`);
      await sleep(50);
    }
  };
  await admittedWithin(120_000);
  let longest = 0;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const t = performance.now();
      await fetch(`${base}/healthz`).then((r) => r.arrayBuffer());
      longest = Math.max(longest, performance.now() - t);
      await sleep(10);
    }
  })();
  await sleep(500);
  longest = 0;
  const before = rebuilds();
  execFileSync('redis-cli', ['-n', args['redis-db'], 'FLUSHDB']);
  const admittedMs = await admittedWithin(120_000);
  polling = false;
  await poll;
  if (rebuilds() === before) throw new Error('the flush set off no rebuild (is the config on that Redis database?)');
  console.log(JSON.stringify({ longestHealthzMs: Math.round(longest), admittedAfterFlushMs: Math.round(admittedMs) }));
} finally {
  gateway.kill('SIGTERM');
}
