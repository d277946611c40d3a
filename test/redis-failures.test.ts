// Redis killed or slowed under load, with real gateway processes: fail_closed answers 503 within the
// timeout and calls no upstream; fail_open keeps serving within the documented bound and reconciles;
// Redis coming back restores normal service without a restart; nothing crashes or hangs.
import { afterEach, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';
import { startDelayProxy, type DelayProxy } from './helpers/redis-delay-proxy.js';
import { startFleet, type Fleet } from './helpers/redis-fleet.js';
import { RECOVERY_HOLD_MS } from '../src/limits/store-health.js';
import { until } from './helpers/until.js';

const TIMEOUT_MS = 250;
const MAX_TOKENS = 40;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Sample {
  sentAt: number;
  ms: number;
  status: number;
  tokens: number;
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function config(storeUrl: string, mode: 'fail_open' | 'fail_closed', budget: number) {
  return (mockUrl: string): string => `
storage: {counters: "${storeUrl}", instances: 3, on_store_error: ${mode}, timeout_ms: ${TIMEOUT_MS}}
providers:
  up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}
  ant: {type: anthropic, base_url: "${mockUrl}", api_key: sk-ant-test}
projects:
  p: {daily_limit: ${budget}}
  spare: {daily_limit: 1000000}
routes:
  r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}
  a: {chat_models: [{model_id: claude-haiku, model: ant/claude-3-5-haiku-latest}]}
keys:
  - {id: k, key: tg-k, project: p}
  - {id: spare, key: tg-spare, project: spare}
`;
}

/** `loops` back-to-back request loops over all gateways until `stop()` is called; returns every sample. */
function load(fleet: Fleet, loops: number, key = 'tg-k'): { samples: Sample[]; stop: () => Promise<void> } {
  const pools = fleet.urls.map((url) => new Pool(url, { connections: loops }));
  const samples: Sample[] = [];
  let running = true;
  const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Count to three.' }], max_tokens: MAX_TOKENS, mock_output_tokens: MAX_TOKENS });
  const loop = async (n: number): Promise<void> => {
    for (let i = n; running; i += loops) {
      const sentAt = Date.now();
      const t0 = performance.now();
      try {
        const res = await pools[i % pools.length].request({
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body,
        });
        const json = (await res.body.json()) as { usage?: { total_tokens: number } };
        samples.push({ sentAt, ms: performance.now() - t0, status: res.statusCode, tokens: json.usage?.total_tokens ?? 0 });
      } catch {
        samples.push({ sentAt, ms: performance.now() - t0, status: 0, tokens: 0 }); // connection failed: a status no test accepts
      }
    }
  };
  const done = Promise.all(Array.from({ length: loops }, (_, n) => loop(n)));
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      running = false;
      await done;
      await Promise.all(pools.map((p) => p.close()));
    })());
  // A failed assertion must not leave loops running against processes being stopped.
  cleanup.push(stop);
  return { samples, stop };
}

async function startAll(mode: 'fail_open' | 'fail_closed', budget: number): Promise<{ redis: RedisServer; fleet: Fleet }> {
  const redis = await startRedisServer({ persist: true });
  cleanup.push(() => redis.stop());
  const fleet = await startFleet(3, config(redis.url, mode, budget), { TOLLGATE_LOG_LEVEL: 'info' });
  cleanup.push(() => fleet.stop());
  return { redis, fleet };
}

const logged = (fleet: Fleet, pattern: RegExp): boolean => fleet.gateways.every((g) => pattern.test(g.output()));

describe('Redis killed during load', () => {
  it('fail_closed: every request answered 503 within the timeout + 50 ms, no upstream call, recovery without a restart', async () => {
    const loops = 9;
    const { redis, fleet } = await startAll('fail_closed', 10_000_000);
    const run = load(fleet, loops);
    await sleep(700);
    await redis.kill();
    const killedAt = Date.now();
    await sleep(300);
    // In each provider's own error format: Anthropic clients get theirs.
    const anthropic = await fetch(`${fleet.urls[0]}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'tg-k', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-haiku', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(anthropic.status).toBe(503);
    expect(anthropic.headers.get('retry-after')).toBe('1');
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { message: expect.stringMatching(/counter store/) } });
    await sleep(1200);
    const restartedAt = Date.now();
    await redis.restart();
    await until(() => logged(fleet, /counter store reachable again/), 10_000);
    await sleep(500);
    await run.stop();

    const during = run.samples.filter((s) => s.sentAt >= killedAt && s.sentAt + s.ms < restartedAt);
    expect(during.length).toBeGreaterThan(50);
    expect(during.filter((s) => s.status !== 503)).toEqual([]);
    expect(Math.max(...during.map((s) => s.ms))).toBeLessThanOrEqual(TIMEOUT_MS + 50);
    const upstream = (await fleet.upstreamRequests()) as Array<{ receivedAt: string }>;
    // Requests reserved before the kill may still reach the upstream after it: at most one per loop (each
    // loop waits for its answer before sending again), and soon, though a stall of a busy machine can hold
    // them for a while. Anything admitted while Redis was down would be more, and later.
    const afterKill = upstream.filter((r) => Date.parse(r.receivedAt) > killedAt && Date.parse(r.receivedAt) < restartedAt);
    expect(afterKill.length).toBeLessThanOrEqual(loops);
    expect(afterKill.filter((r) => Date.parse(r.receivedAt) > killedAt + 1000)).toEqual([]);
    const recovered = run.samples.filter((s) => s.sentAt > Date.now() - 300);
    expect(recovered.length).toBeGreaterThan(0);
    expect(recovered.filter((s) => s.status !== 200)).toEqual([]);
    expect(run.samples.filter((s) => ![200, 503].includes(s.status))).toEqual([]);
    for (const g of fleet.gateways) {
      expect(g.child.exitCode).toBeNull();
      expect(g.output()).toMatch(/counter store unreachable: refusing requests with 503/);
    }
  }, 60_000);

  it('fail_open: keeps serving from local shares, stays within limit + in-flight, reconciles exactly when Redis is back', async () => {
    const budget = 20_000;
    const loops = 9;
    const { redis, fleet } = await startAll('fail_open', budget);
    const run = load(fleet, loops);
    await sleep(500);
    await redis.kill();
    await sleep(1500);
    await redis.restart();
    await until(() => logged(fleet, /counter store reachable again/), 10_000);
    await sleep(RECOVERY_HOLD_MS + 500); // and on, back on the shared counters
    await run.stop();

    expect(run.samples.filter((s) => ![200, 429].includes(s.status))).toEqual([]);
    const admitted = run.samples.reduce((sum, s) => sum + s.tokens, 0);
    const perRequest = Math.max(...run.samples.map((s) => s.tokens));
    // The documented bound: the limit, plus what was in flight when the instances switched to local counters.
    expect(admitted).toBeLessThanOrEqual(budget + loops * perRequest);
    expect(admitted).toBeGreaterThan(budget * 0.5); // and the local shares were really used
    // Drift 0: Redis holds exactly what was settled, through Redis or locally and replayed.
    const raw = new Redis(redis.url);
    cleanup.push(async () => void (await raw.quit()));
    await until(async () => Number(await raw.hget('tg:{default}:project:p:daily:fixed_window', 'u')) === admitted, 5000);
    // No reservation left open; the cancels of those whose answer was lost leave tombstones for a minute.
    const records = await raw.keys('tg:{default}:res:*');
    const values = records.length > 0 ? await raw.mget(...records) : [];
    expect(records.filter((_, i) => values[i] !== 'x')).toEqual([]);
    // Normal service: a project with room is served through every gateway.
    const spare = load(fleet, 3, 'tg-spare');
    await sleep(300);
    await spare.stop();
    expect(spare.samples.length).toBeGreaterThan(3);
    expect(spare.samples.every((s) => s.status === 200)).toBe(true);
    for (const g of fleet.gateways) {
      expect(g.child.exitCode).toBeNull();
      expect(g.output()).toMatch(/counter store unreachable: admitting against local counters \(1\/3 of each limit\)/);
    }
  }, 60_000);
});

describe('Redis slowed down', () => {
  it('adds at most the timeout per call, answers 503 past it, never hangs, and recovers', async () => {
    const redis = await startRedisServer();
    cleanup.push(() => redis.stop());
    const proxy: DelayProxy = await startDelayProxy(redis.port);
    cleanup.push(() => proxy.close());
    const fleet = await startFleet(1, config(proxy.url, 'fail_closed', 10_000_000), { TOLLGATE_LOG_LEVEL: 'info' });
    cleanup.push(() => fleet.stop());
    const probe = async (): Promise<Sample[]> => {
      const run = load(fleet, 4);
      await sleep(400);
      await run.stop();
      return run.samples;
    };
    // Not counted: a new gateway's first calls load the tokenizer and Redis's script, which on a slow
    // machine takes most of a probe's 400 ms.
    await probe();
    const fast = await probe();
    expect(fast.length).toBeGreaterThan(4);
    expect(fast.filter((s) => s.status !== 200)).toEqual([]);

    proxy.setDelay(50); // 100 ms per round trip, within the timeout: slower, still served
    const slow = await probe();
    expect(slow.length).toBeGreaterThan(4);
    expect(slow.filter((s) => s.status !== 200)).toEqual([]);
    // The reserve's round trip; the settlement's does not hold the response.
    expect(Math.min(...slow.map((s) => s.ms))).toBeGreaterThanOrEqual(95);
    expect(Math.max(...slow.map((s) => s.ms))).toBeLessThanOrEqual(TIMEOUT_MS + 100);

    proxy.setDelay(2000); // far past it: refused, within the timeout, then at once
    const stuck = await probe();
    expect(stuck.length).toBeGreaterThan(4);
    expect(stuck.every((s) => s.status === 503)).toBe(true);
    expect(Math.max(...stuck.map((s) => s.ms))).toBeLessThanOrEqual(TIMEOUT_MS + 50);

    proxy.setDelay(0);
    await until(() => logged(fleet, /counter store reachable again/), 10_000);
    const back = await probe();
    expect(back.length).toBeGreaterThan(4);
    expect(back.filter((s) => s.status !== 200)).toEqual([]);
  }, 60_000);
});
