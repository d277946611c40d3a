// Found while rolling short windows through a Redis outage (fail_open, one gateway, 2-second windows: 694
// tokens admitted in a window of 600, the window in which Redis came back empty). Reduced here to one
// daily budget, at midday: calls admitted against the local counters during the outage are still running
// when Redis is back (restarted empty); the rebuild reads the ledger, which has no row of them yet, and
// only the reservations Redis held are placed back (redis-store.ts placeInFlightAgain), not those the
// local counters admitted. The whole budget is handed out again beside them. With `instances: 1` the
// README's fail-open bound is the limit itself ("together they admit at most the limit, plus what the
// other instances admitted after each instance's last look": there are none).
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mockChat, useGatewayOnPrivateRedis } from './helpers/gateway-on-private-redis.js';

const LIMIT = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const start = useGatewayOnPrivateRedis();
const call = (url: string, latencyMs: number, output: number): Promise<number> => mockChat(url, 'tg-fo-k1', latencyMs, output);

describe('fail_open: calls admitted locally still running when Redis comes back empty', () => {
  it('one gateway admits no more than its daily limit', async () => {
    const { redis, url, ledgerFile, stopGateway } = await start('fail-open-running', (at) => `
storage: {counters: "${at.redisUrl}", ledger: "sqlite:${at.ledgerFile}", timeout_ms: 300, on_store_error: fail_open}
providers: {up: {type: openai, base_url: "${at.mockUrl}/v1", api_key: sk-test}}
organizations: {o1: {daily_cap: ${LIMIT}}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}}
keys: [{id: k1, key: tg-fo-k1, organization: o1, user: u1}]
`);
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
    await stopGateway();
    const db = new Database(ledgerFile, { readonly: true });
    const { tokens } = db.prepare('select sum(input_tokens + output_tokens) as tokens from tollgate_ledger where status = 200').get() as { tokens: number };
    db.close();
    // Observed: 1,390 (20 + 20 + 8 × 50 running + 19 × 50 after Redis came back).
    expect(tokens).toBeLessThanOrEqual(LIMIT);
  }, 30_000);
});
