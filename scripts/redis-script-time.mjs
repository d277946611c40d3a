#!/usr/bin/env node
// A/B of Redis's own time per reserve + settle, one build's RedisCounterStore against another's: rounds
// interleaved (A B, B A, ...) on a private redis-server, each round 20,000 reservations of 6 fixed-window
// items and 1 sliding-window item, settled one by one. The figure is the scripts' time from Redis's INFO
// commandstats (EVAL/EVALSHA usec, which includes the commands they call), not the process's CPU: the
// network's share is the same for both builds and only adds noise. The machine is shared: compare the pairs
// and the medians, never one round.
//
//   git archive <rev> | tar -x -C /tmp/old && ln -s "$PWD/node_modules" /tmp/old/node_modules
//   (cd /tmp/old && npx tsc -p tsconfig.build.json --outDir /tmp/old/dist)
//   npm run build && node scripts/redis-script-time.mjs /tmp/old/dist "$PWD/dist" [rounds 8] [per round 20000]
import { execSync } from 'node:child_process';

const [distA, distB, roundsArg, perRoundArg] = process.argv.slice(2);
if (!distA || !distB) {
  console.error('usage: node scripts/redis-script-time.mjs <dist A> <dist B> [rounds] [reservations per round]');
  process.exit(2);
}
const rounds = Number(roundsArg ?? 8);
const perRound = Number(perRoundArg ?? 20_000);
const port = 26_399;
const HOUR = 3_600_000;

execSync(`redis-server --port ${port} --save '' --appendonly no --daemonize yes`);
await new Promise((r) => setTimeout(r, 300));

async function load(dist) {
  const { RedisCounterStore } = await import(`${dist}/limits/redis/redis-store.js`);
  const { createRedisClient, waitReady } = await import(`${dist}/limits/redis/redis-client.js`);
  return { RedisCounterStore, createRedisClient, waitReady };
}

/** Nine limits' worth, as the bench config: organization, project and user days, route and group hours, a user's rate. */
const items = (org) => [
  ...['org:daily', 'project:p:daily', 'user:u:daily', 'route:r:input', 'route:r:output', 'group:g:daily'].map((name, i) => ({
    key: `tg:{${org}}:${name}:fixed_window`,
    algorithm: 'fixed_window',
    window: i < 3 ? { kind: 'calendar', unit: 'day' } : { kind: 'duration', ms: HOUR },
    max: 1e12,
    weights: { input: 1, output: 1, request: 0 },
    mode: 'enforce',
  })),
  { key: `tg:{${org}}:user:u:rate:sliding_window`, algorithm: 'sliding_window', window: { kind: 'duration', ms: 60_000 }, max: 1e12, weights: { input: 0, output: 0, request: 1 }, mode: 'enforce' },
];

/** Seconds Redis spent in scripts so far. */
function scriptSeconds(info) {
  let usec = 0;
  for (const m of info.matchAll(/cmdstat_(evalsha|eval):calls=\d+,usec=(\d+)/g)) usec += Number(m[2]);
  return usec / 1e6;
}

const builds = { A: await load(distA), B: await load(distB) };
const perCall = { A: [], B: [] };
try {
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? ['B', 'A'] : ['A', 'B']) {
      const build = builds[name];
      const client = build.createRedisClient(`redis://127.0.0.1:${port}`, 2000);
      await build.waitReady(client, 5000);
      const store = new build.RedisCounterStore(client, { timezone: 'UTC', clock: { now: () => Date.now() }, reservationTtlMs: 900_000 });
      const its = items(`ab${name}${r}`);
      const before = scriptSeconds(await client.info('commandstats'));
      for (let i = 0; i < perRound; i++) {
        await store.reserve({ id: `r${i}`, items: its, input: 100, output: 50, clamp: false, minOutput: 1 });
        await store.settle(`r${i}`, { input: 100, output: 20, request: 1 });
      }
      perCall[name].push(((scriptSeconds(await client.info('commandstats')) - before) * 1e6) / perRound);
      await store.close();
      await client.quit().catch(() => {});
    }
  }
} finally {
  execSync(`redis-cli -p ${port} shutdown nosave || true`);
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const round1 = (x) => Math.round(x * 10) / 10;
console.log(`Redis script time per reserve + settle (µs), ${rounds} rounds of ${perRound}:`);
console.log(`  A ${distA}: ${perCall.A.map(round1).join(', ')}  median ${round1(median(perCall.A))}`);
console.log(`  B ${distB}: ${perCall.B.map(round1).join(', ')}  median ${round1(median(perCall.B))}`);
console.log(`  B − A per pair: ${perCall.B.map((b, i) => round1(b - perCall.A[i])).join(', ')}`);
