// The wire-level form of test/review-rollover-in-flight-placed-back.test.ts, on a real gateway process, a
// private Redis and a SQLite ledger, with a 4-second fixed window instead of a calendar day (so it holds at
// any time of day): calls admitted late in one window still run when Redis is flushed just after the next
// window starts. After the rebuild the gateway places them back into the current window, and their
// settlements leave their usage there: once quiet, the new window's counter holds the usage of calls
// whose ledger rows (admission time) are in the window before.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import Database from 'better-sqlite3';
import { mockChat, useGatewayOnPrivateRedis } from './helpers/gateway-on-private-redis.js';

const WINDOW_MS = 4000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const start = useGatewayOnPrivateRedis();
const call = (url: string, latencyMs: number): Promise<number> => mockChat(url, 'tg-flush-k1', latencyMs, 10);

describe('a Redis flush just after a fixed window rolls, with calls of the window before still running', () => {
  it('the new window’s counter holds only the calls admitted in it', async () => {
    const { redis, url, ledgerFile, stopGateway } = await start('rollover-flush', (at) => `
storage: {counters: "${at.redisUrl}", ledger: "sqlite:${at.ledgerFile}", timeout_ms: 2000}
providers: {up: {type: openai, base_url: "${at.mockUrl}/v1", api_key: sk-test}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]
    token_limiting:
      total: {algorithm: fixed_window, window_size: 4 seconds, max_token: 5000}
keys:
  - {id: k1, key: tg-flush-k1, user: u1}
`);
    expect(await call(url, 0)).toBe(200); // the counters exist (and the presence marker)
    // 2.5 s into a window: ten calls that run 2.5 s, ending 1 s into the next one.
    const w0 = (Math.floor(Date.now() / WINDOW_MS) + 1) * WINDOW_MS;
    await sleep(w0 + 2500 - Date.now());
    const running = Array.from({ length: 10 }, () => call(url, 2500));
    await sleep(w0 + WINDOW_MS + 300 - Date.now());
    const admin = new Redis(redis.url);
    await admin.flushdb();
    await sleep(200);
    expect(await call(url, 0)).toBe(200); // notices the loss: rebuild, then its running calls placed back
    expect(await Promise.all(running)).toEqual(Array(10).fill(200));
    await sleep(1500); // rows written
    const keys = await admin.keys('*:total:fixed_window');
    const counter = keys.length === 1 ? await admin.hgetall(keys[0]) : {};
    await admin.quit();
    await stopGateway();

    const db = new Database(ledgerFile, { readonly: true });
    const rows = db.prepare('select ts, input_tokens + output_tokens as tokens from tollgate_ledger where status = 200').all() as Array<{ ts: number; tokens: number }>;
    db.close();
    const w1 = w0 + WINDOW_MS;
    const inW1 = rows.filter((r) => r.ts >= w1 && r.ts < w1 + WINDOW_MS);
    const inW0 = rows.filter((r) => r.ts >= w0 && r.ts < w1);
    expect(inW0.length).toBe(10); // the ten running calls were admitted in the window before
    expect(inW1.length).toBe(1);
    expect(Number(counter.s)).toBe(w1);
    // Observed: 220 = 20 + 10 × 20, the ten calls of the window before counted again in this one.
    expect(Number(counter.u)).toBe(inW1.reduce((s, r) => s + r.tokens, 0));
  }, 30_000);
});
