// The on_store_error mode in force, shown by `tollgate_counter_store_mode` / `tollgate_counter_store_limits`
// and the outage log line (per-limit overrides named), and fail_open shares that a Redis timeout (a hang,
// a false alarm) never hands out twice. Each describe block runs its own redis-server and kills or slows it.
//
// Side by side (12-07, CI time: the file took 35.6 s one test after another, the /metrics test alone 19.9 s,
// most of each hang test waiting out the 2-second recovery hold): the three describe blocks each have a
// redis-server of their own, and no block's keys, proxies or processes are another's. The hang tests run
// side by side too, each through a delay proxy of its own and with stores of its own (ownProxy), none
// killing its block's server. The outage log tests kill theirs: they stay one after another
// (it.sequential; killableRedis is called inside their block, so its afterEach restarts that block's
// server and closes that block's stores only).
// The hang tests' timeouts are 100 ms, and the /metrics test's gateway processes do not run beside them: it
// starts them once every hang test has ended. Starting a process is a second or more of CPU, and its polling
// of both gateways through the outage and the recovery hold is more: on a 2-core machine, beside them, a
// hang test's first commands came back too late, and its false alarms turned into outages (4.2 s became 8).
import { afterAll, beforeAll, describe, expect, it, type RunnerTestFile, type TestContext } from 'vitest';
import { Redis } from 'ioredis';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { CounterItem, ReserveOutcome } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ResilientStore } from '../src/limits/resilient-store.js';
import { systemClock } from '../src/util/clock.js';
import { RECOVERY_HOLD_MS } from '../src/limits/store-health.js';
import type { OnStoreError } from '../src/config/policy.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { killableRedis, resilientStoreOn, STORE_TIMEOUT_MS, type Logged } from './helpers/killable-redis.js';
import { until } from './helpers/until.js';
import { startDelayProxy } from './helpers/redis-delay-proxy.js';
import { startRedisServer, usePrivateRedis, type RedisServer } from './helpers/redis-servers.js';
import { servedAtMidday } from './helpers/midday-zone.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const TIMEOUT_MS = STORE_TIMEOUT_MS;
// Redis hanging: every command and PING outlives the timeout five times over. Longer only delays the
// recovery, which waits for the bytes the proxy still holds (1000 ms took ~0.5 s more per test).
const HANG_MS = 5 * TIMEOUT_MS;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const org = (): string => `m${Math.random().toString(36).slice(2, 10)}`;
function daily(o: string, max: number, onStoreError?: OnStoreError): CounterItem {
  return { key: `tg:{${o}}:daily:fixed_window`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce', ...(onStoreError ? { onStoreError } : {}) };
}
let seq = 0;
const id = (): string => `s${seq++}`;

/** Reserves `input` tokens; when admitted, settles them in full. Returns the tokens admitted (0 or `input`). */
async function spend(store: ResilientStore, items: CounterItem[], input: number): Promise<number> {
  const q = id();
  let r: ReserveOutcome;
  try {
    r = await store.reserve({ id: q, items, input, output: 0, clamp: false, minOutput: 1 });
  } catch {
    return 0; // fail_closed: refused
  }
  if (!r.ok) return 0;
  await store.settle(q, { input, output: 0, request: 1 });
  return input;
}

/** One look at the shared counters (a reservation of nothing). */
async function look(store: ResilientStore, items: CounterItem[]): Promise<number> {
  const q = id();
  const r = await store.reserve({ id: q, items, input: 0, output: 0, clamp: false, minOutput: 1 });
  await store.settle(q, { input: 0, output: 0, request: 0 });
  return r.states[0].used;
}

async function redisUsed(url: string, key: string): Promise<number> {
  const raw = new Redis(url);
  try {
    return Number((await raw.hget(key, 'u')) ?? 0);
  } finally {
    await raw.quit();
  }
}

const HANG = 'fail_open when Redis hangs (timeouts, not a lost connection)';
const METRICS = 'GET /metrics: tollgate_counter_store_mode and tollgate_counter_store_limits';
/** Resolved once every hang test has ended. */
let hangTestsEnded!: () => void;
const hangTestsDone = new Promise<void>((r) => (hangTestsEnded = r));
/** Whether the describe block named `name` runs (-t may leave it out: then nothing waits for it). */
const runs = (file: RunnerTestFile, name: string): boolean => file.tasks.some((t) => t.name === name && t.mode === 'run');

/**
 * A hang test's own delay proxy in front of `redis`, and ResilientStores as killableRedis makes them (its
 * STORE_TIMEOUT_MS, a 50 ms probe, what they log), on the proxy by default: all closed when the test ends.
 */
async function ownProxy(redis: RedisServer, onTestFinished: TestContext['onTestFinished']) {
  const proxy = await startDelayProxy(redis.port);
  const stores: ResilientStore[] = [];
  onTestFinished(async () => {
    proxy.setDelay(0);
    await Promise.all(stores.map((s) => s.close()));
    await proxy.close();
  });
  const resilient = async (mode: OnStoreError, instances = 1, url = proxy.url): Promise<{ store: ResilientStore; logs: Logged[] }> => {
    const made = await resilientStoreOn(url, mode, instances);
    stores.push(made.store);
    return made;
  };
  return { proxy, resilient };
}

describe.concurrent(HANG, () => {
  const redis = usePrivateRedis();
  beforeAll(async () => {
    // The counting scripts loaded into Redis, and this process's code for them warm, with a timeout of
    // seconds: otherwise the tests' first commands, all at once, load them within 100 ms (as one after
    // another only the first test's did).
    const client = createRedisClient(redis.url, 5000);
    expect(await waitReady(client, 5000)).toBe(true);
    const warm = new RedisCounterStore(client, { timezone: 'UTC', clock: systemClock, reservationTtlMs: 60_000 });
    const items = [daily(org(), 1000)];
    await warm.reserve({ id: 'warm', items, input: 0, output: 0, clamp: false, minOutput: 1 });
    await warm.settle('warm', { input: 0, output: 0, request: 0 });
    await warm.close();
  });
  afterAll(() => hangTestsEnded());
  for (const instances of [1, 2]) {
    it(`instances ${instances}: what was admitted while the timeout was being confirmed carries into the outage's local share`, async ({ onTestFinished }) => {
      const fx = await ownProxy(redis, onTestFinished);
      const o = org();
      const items = [daily(o, 1000)];
      const { store } = await fx.resilient('fail_open', instances);
      expect(await spend(store, items, 200)).toBe(200);
      expect(await look(store, items)).toBe(200);
      fx.proxy.setDelay(HANG_MS);
      let admitted = 0;
      const wave = async (): Promise<void> => {
        const got = await Promise.all(Array.from({ length: 30 }, () => spend(store, items, 50)));
        admitted += got.reduce((a, b) => a + b, 0);
      };
      await wave(); // every reserve times out; the confirming PING is still out
      await until(() => store.mode === 'fail_open', 2000);
      await wave(); // confirmed down
      await sleep(300);
      await wave();
      // The documented local allowance: 1/instances of the room last seen.
      const share = (1000 - 200) / instances;
      expect(admitted).toBeLessThanOrEqual(share);
      expect(admitted).toBeGreaterThan(share - 50); // and the share was really used
      fx.proxy.setDelay(0);
      await until(() => store.mode === 'ok' && store.backlog === 0);
      await store.quiesce();
      // Exactly what was settled, the lost reservations cancelled.
      await until(async () => (await redisUsed(redis.url, items[0].key)) === 200 + admitted);
    });
  }

  it('false alarms (a timeout the PING does not confirm) never hand out a share twice, nor reuse stale local counters', async ({ onTestFinished }) => {
    const fx = await ownProxy(redis, onTestFinished);
    const o = org();
    const items = [daily(o, 1000)];
    const a = await fx.resilient('fail_open', 1);
    const b = await fx.resilient('fail_open', 1, redis.url);
    expect(await look(a.store, items)).toBe(0);
    let admitted = 0;
    /**
     * One reserve that times out while the PING that follows it is answered in time: counted locally, the
     * mode stays ok. (On a busy machine the PING may time out too; then it is a short outage, as good a test.)
     */
    const falseAlarm = async (input: number): Promise<number> => {
      fx.proxy.setDelay(TIMEOUT_MS + 20);
      const p = spend(a.store, items, input);
      await sleep(30); // the reserve is on its way, delayed
      fx.proxy.setDelay(0); // the PING is not
      const got = await p;
      await until(() => a.store.mode === 'ok' && a.store.backlog === 0);
      return got;
    };
    expect(await falseAlarm(50)).toBe(50);
    admitted += 50;
    // Another instance uses 900 meanwhile; A looks again.
    for (let i = 0; i < 9; i++) admitted += await spend(b.store, items, 100);
    expect(admitted).toBe(950);
    expect(await look(a.store, items)).toBe(950);
    for (let i = 0; i < 6; i++) admitted += await falseAlarm(50);
    // Then a real hang: nothing is left to give.
    fx.proxy.setDelay(HANG_MS);
    for (let i = 0; i < 3; i++) {
      admitted += (await Promise.all(Array.from({ length: 10 }, () => spend(a.store, items, 50)))).reduce((x, y) => x + y, 0);
      await sleep(150);
    }
    expect(a.store.mode).toBe('fail_open');
    expect(admitted).toBeLessThanOrEqual(1000);
    fx.proxy.setDelay(0);
    await until(() => a.store.mode === 'ok' && a.store.backlog === 0);
    await a.store.quiesce();
    await until(async () => (await redisUsed(redis.url, items[0].key)) === admitted);
  });

  it('a replay that times out during the recovery hold, the PING answering, is sent again: no usage stays out of the shared counters', async ({ onTestFinished }) => {
    const fx = await ownProxy(redis, onTestFinished);
    const o = org();
    const items = [daily(o, 1000)];
    const { store, logs } = await fx.resilient('fail_open', 1);
    expect(await spend(store, items, 100)).toBe(100);
    // A real outage: Redis hangs, the PING confirms it; 50 counted locally.
    fx.proxy.setDelay(HANG_MS);
    expect(await spend(store, items, 50)).toBe(50);
    await until(() => store.mode === 'fail_open', 2000);
    fx.proxy.setDelay(0);
    await until(() => logs.some((l) => /reachable again/.test(l.msg)));
    // Holding: 30 more counted locally, whose replay is slow enough to time out while the PING after it is not.
    // (On a busy machine the PING may time out too, or the hold be over: other paths, that must end the same.)
    fx.proxy.setDelay(TIMEOUT_MS + 20);
    const got = spend(store, items, 30);
    await sleep(30);
    fx.proxy.setDelay(0);
    expect(await got).toBe(30);
    await until(() => store.mode === 'ok' && store.backlog === 0, RECOVERY_HOLD_MS + 3000);
    await store.quiesce();
    await until(async () => (await redisUsed(redis.url, items[0].key)) === 180);
  });
});

describe.concurrent('the outage log line and modeFor with per-limit overrides', () => {
  const fx = killableRedis();
  const resilient = fx.resilient;
  it.sequential('default fail_closed with a fail_open limit: names both, and modeFor tells them apart', async () => {
    const o = org();
    const rate = { ...daily(o, 100, 'fail_open'), key: `tg:{${o}}:tier:free:rate:fixed_window` };
    const budget = daily(o, 1_000_000);
    const { store, logs } = await resilient('fail_closed', 3, fx.redis.url);
    store.describeLimits(() => [
      { id: 'project:web:daily', mode: 'enforce' },
      { id: 'org:default:monthly', mode: 'enforce' },
      { id: 'tier:free:rate', mode: 'enforce', onStoreError: 'fail_open' },
    ]);
    await fx.redis.kill();
    expect(await spend(store, [rate, budget], 1)).toBe(0);
    expect(await spend(store, [rate], 1)).toBe(1);
    expect(store.mode).toBe('fail_closed');
    expect(store.modeFor('fail_open')).toBe('fail_open');
    expect(store.modeFor('fail_closed')).toBe('fail_closed');
    const down = logs.filter((l) => /unreachable/.test(l.msg));
    expect(down).toHaveLength(1);
    expect(down[0].msg).toBe(
      'counter store unreachable: refusing requests with 503 for requests that need a limit that fails closed (2: project:web:daily, org:default:monthly); ' +
        'admitting against local counters (1/3 of each limit) for requests whose limits all fail open (1: tier:free:rate) until it answers again',
    );
    expect(down[0].obj).toMatchObject({ mode: 'fail_closed', fail_open: ['tier:free:rate'], fail_closed: ['project:web:daily', 'org:default:monthly'] });
    await fx.redis.restart();
    await until(() => store.mode === 'ok');
    // The fail_open limit keeps counting locally through the recovery hold, then rejoins.
    expect(store.modeFor('fail_open')).toBe('fail_open');
    await until(() => store.modeFor('fail_open') === 'ok', RECOVERY_HOLD_MS + 2000);
  });

  it.sequential('default fail_open with a fail_closed limit: the default leads, the exception is named; no overrides: the plain line', async () => {
    const { store, logs } = await resilient('fail_open', 2, fx.redis.url);
    store.describeLimits(() => [
      { id: 'project:web:daily', mode: 'enforce', onStoreError: 'fail_closed' },
      ...Array.from({ length: 12 }, (_, i) => ({ id: `group:g${i}:rate`, mode: 'enforce' as const })),
    ]);
    const plain = await resilient('fail_closed', 1, fx.redis.url);
    plain.store.describeLimits(() => [{ id: 'project:web:daily', mode: 'enforce' }, { id: 'group:g:rate', mode: 'shadow', onStoreError: 'fail_closed' }]);
    await fx.redis.kill();
    await spend(store, [daily(org(), 100)], 1);
    await spend(plain.store, [daily(org(), 100)], 1);
    const line = logs.find((l) => /unreachable/.test(l.msg))!.msg;
    expect(line).toMatch(/^counter store unreachable: admitting against local counters \(1\/2 of each limit\) for requests whose limits all fail open \(12: group:g0:rate, .*group:g7:rate and 4 more\); refusing requests with 503 for requests that need a limit that fails closed \(1: project:web:daily\) until it answers again$/);
    // A shadow limit never refuses: it counts as failing open.
    expect(plain.logs.find((l) => /unreachable/.test(l.msg))!.msg).toMatch(/fails closed \(1: project:web:daily\); .*fail open \(1: group:g:rate\)/);
  });
});

describe.concurrent(METRICS, () => {
  const gateways: RunningProcess[] = [];
  let own: RedisServer | undefined;
  let mock: MockUpstream | undefined;
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await mock?.close();
    await own?.stop();
  });

  const config = (storeUrl: string, mode: OnStoreError, mockUrl: string): string => `
storage: {counters: "${storeUrl}", on_store_error: ${mode}, timeout_ms: 200}
providers:
  up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}
projects:
  p: {daily_limit: 1000000}
users:
  free: {daily_limit: 100000, rate_limit: {max_requests: 1000, on_store_error: fail_open}}
routes:
  r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}
keys:
  - {id: k, key: tg-k, project: p, user: alice, tier: free}
`;

  async function gauges(url: string): Promise<Record<string, Record<string, number>>> {
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    const out: Record<string, Record<string, number>> = {};
    for (const f of parsePrometheusTextFormat(await res.text())) {
      if (f.name !== 'tollgate_counter_store_mode' && f.name !== 'tollgate_counter_store_limits') continue;
      out[f.name] = Object.fromEntries(f.metrics.map((m) => [m.labels!.mode, Number(m.value)]));
    }
    return out;
  }
  const call = (url: string): Promise<number> =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tg-k' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
    }).then(async (r) => (await r.arrayBuffer(), r.status));

  it.sequential('ok normally; fail_closed / fail_open (and the override) once Redis is gone; ok again when it is back', async ({ task }) => {
    // Not beside the hang tests (see the top of the file).
    if (runs(task.file, HANG)) await hangTestsDone;
    // The gateways are real processes (what `tollgate serve` wires: its /metrics, its log); the mock upstream
    // they both call runs in this process, started with the redis-server (12-07, CI time: a mock-upstream
    // process per gateway, each started before its gateway, was a node start-up more on the way).
    mock = createMockUpstream({});
    const [redis, mockUrl] = await Promise.all([startRedisServer(), mock.listen(0, '127.0.0.1')]);
    own = redis;
    const ok = { tollgate_counter_store_mode: { ok: 1, fail_open: 0, fail_closed: 0 }, tollgate_counter_store_limits: { ok: 3, fail_open: 0, fail_closed: 0 } };
    // Both at once: each is a gateway booting, a second or more of CPU on a busy machine. Given 30 s to say
    // it listens, not startCli's 15: two booting together took 8-13 s on a 2-core machine at a load of 12.
    const started = await Promise.allSettled(
      (['fail_closed', 'fail_open'] as const).map((mode) => startCli(['serve', '--config', writeConfig(servedAtMidday(config(redis.url, mode, mockUrl))), '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' }, 30_000)),
    );
    for (const s of started) if (s.status === 'fulfilled') gateways.push(s.value);
    const [closed, open] = started.map((s) => {
      if (s.status === 'rejected') throw s.reason;
      return s.value;
    });
    const [c, f] = [closed.url, open.url];
    expect(await call(c)).toBe(200);
    expect(await call(f)).toBe(200);
    expect(await gauges(c)).toEqual(ok);
    expect(await gauges(f)).toEqual(ok);

    await redis.kill();
    await until(async () => (await call(c)) === 503);
    await until(async () => (await call(f)) === 200 && (await gauges(f)).tollgate_counter_store_mode.fail_open === 1);
    // Default fail_closed: the mode says so, and the fail_open rate limit shows as the one limit counted locally.
    expect(await gauges(c)).toEqual({ tollgate_counter_store_mode: { ok: 0, fail_open: 0, fail_closed: 1 }, tollgate_counter_store_limits: { ok: 0, fail_open: 1, fail_closed: 2 } });
    expect(await gauges(f)).toEqual({ tollgate_counter_store_mode: { ok: 0, fail_open: 1, fail_closed: 0 }, tollgate_counter_store_limits: { ok: 0, fail_open: 3, fail_closed: 0 } });
    const closedLog = closed.output();
    expect(closedLog).toMatch(/refusing requests with 503 for requests that need a limit that fails closed \(2: project:p:daily, tier:free:daily\); admitting against local counters \(1\/1 of each limit\) for requests whose limits all fail open \(1: tier:free:rate\)/);
    expect(open.output()).toMatch(/counter store unreachable: admitting against local counters \(1\/1 of each limit\) until it answers again/);

    await redis.restart();
    await until(async () => (await gauges(c)).tollgate_counter_store_mode.ok === 1 && (await gauges(f)).tollgate_counter_store_mode.ok === 1, 10_000);
    await until(async () => (await gauges(c)).tollgate_counter_store_limits.ok === 3, RECOVERY_HOLD_MS + 3000);
    expect(await gauges(c)).toEqual(ok);
    await until(async () => JSON.stringify(await gauges(f)) === JSON.stringify(ok), RECOVERY_HOLD_MS + 3000);
    expect(await call(c)).toBe(200);
    expect(await call(f)).toBe(200);
  }, 90_000); // 60 s of its own, and the hang tests it waits for
});
