// Found while rolling short windows through a Redis outage (fail_open, one gateway, 2-second windows: 694
// tokens admitted in a window of 600, the window in which Redis came back empty). Reduced here to one
// daily budget, at midday: calls admitted against the local counters during the outage are still running
// when Redis is back (restarted empty); the rebuild reads the ledger, which has no row of them yet, and
// only the reservations Redis held are placed back (redis-store.ts placeInFlightAgain), not those the
// local counters admitted. The whole budget is handed out again beside them. With `instances: 1` the
// README's fail-open bound is the limit itself ("together they admit at most the limit, plus what the
// other instances admitted after each instance's last look": there are none).
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFleet, type Fleet } from './helpers/redis-fleet.js';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';

const LIMIT = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let redis: RedisServer | undefined;
let fleet: Fleet | undefined;
afterAll(async () => {
  await fleet?.stop();
  await redis?.stop();
});

async function call(url: string, latencyMs: number, output: number): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-fo-k1' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'count to three' }], max_tokens: 40, mock_output_tokens: output, mock_latency_ms: latencyMs }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('fail_open: calls admitted locally still running when Redis comes back empty', () => {
  it('one gateway admits no more than its daily limit', async () => {
    redis = await startRedisServer();
    const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-fail-open-running-'));
    const ledgerFile = path.join(dir, 'ledger.db');
    const redisUrl = redis.url;
    fleet = await startFleet(1, (mock) => `
storage: {counters: "${redisUrl}", ledger: "sqlite:${ledgerFile}", timeout_ms: 300, on_store_error: fail_open}
providers: {up: {type: openai, base_url: "${mock}/v1", api_key: sk-test}}
organizations: {o1: {daily_cap: ${LIMIT}}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}}
keys: [{id: k1, key: tg-fo-k1, organization: o1, user: u1}]
`);
    const url = fleet.urls[0];
    expect(await call(url, 0, 10)).toBe(200);
    await redis.kill();
    await sleep(300);
    expect(await call(url, 0, 10)).toBe(200); // the outage is noticed: local counters from here
    const running = Array.from({ length: 8 }, () => call(url, 7000, 40)); // 8 × 50 tokens, admitted locally
    await sleep(300);
    await redis.restart(); // back, empty
    await sleep(3500); // the probe finds it, the 2-second hold ends
    // Spend what is left: each call 50 tokens, until one is refused.
    let filled = 0;
    while (filled < 60 && (await call(url, 0, 40)) === 200) filled++;
    expect(await Promise.all(running)).toEqual(Array(8).fill(200));
    await sleep(1500); // rows written
    await fleet.stop();
    fleet = undefined;
    const db = new Database(ledgerFile, { readonly: true });
    const { tokens } = db.prepare('select sum(input_tokens + output_tokens) as tokens from tollgate_ledger where status = 200').get() as { tokens: number };
    db.close();
    // Observed: 1,390 (20 + 20 + 8 × 50 running + 19 × 50 after Redis came back).
    expect(tokens).toBeLessThanOrEqual(LIMIT);
  }, 30_000);
});
