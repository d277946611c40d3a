// A /metrics scrape reads the headroom of every limit it tracks from the counter store. A gateway with
// thousands of users tracks thousands of per-user limits (collapsed to one series each, but each user's
// counter is read to find the most used). Read in one Redis script, 40,002 limits took 1.16 s of Redis
// (blocking every instance sharing it), the script outlived storage.timeout_ms, the scrape marked the store
// unreachable (fail_closed: calls got 503 for seconds after each scrape) and showed no headroom at all.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import type { AppliedLimit } from '../src/limits/applicable-limits.js';
import type { CounterStore } from '../src/limits/counter-store.js';
import { openCounterStore } from '../src/limits/open-counter-store.js';
import { GatewayMetrics } from '../src/metrics/gateway-metrics.js';
import { Gateway } from '../src/proxy/gateway.js';
import { systemClock } from '../src/util/clock.js';
import { families, sum } from './helpers/prometheus-scrape.js';
import { writeConfig } from './helpers/processes.js';
import { usePrivateRedis } from './helpers/redis-servers.js';

// Enough per-user limits that one script reading them all outlives the timeout on any machine (~30 µs each
// on the test host: 1.2 s against 250 ms, the default), and a few hundred of them stay well inside it.
const USERS = 10_000;

const config = (redisUrl: string): string => `
server: {timezone: UTC}
storage: {counters: "${redisUrl}", on_store_error: fail_closed, timeout_ms: 250}
providers:
  demo: {type: mock}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organization: {daily_cap: 100000000}
users:
  t: {daily_limit: 1000, rate_limit: 100000, monthly_limit: {max_cost_usd: 100}}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
keys:
  - {id: k0, key: tg-k0, user: u0, tier: t}
`;

describe('a scrape of a gateway with thousands of per-user limits on Redis', () => {
  const redis = usePrivateRedis();
  let store: CounterStore;
  let gateway: Gateway;

  beforeAll(async () => {
    const policy = loadPolicy([writeConfig(config(redis.url))], {});
    store = await openCounterStore(policy, pino({ level: 'silent' }));
    gateway = new Gateway(policy, store, systemClock);
  });
  afterAll(async () => {
    await gateway?.close();
    await store?.close();
  });

  it('shows every limit and leaves the counter store answering calls', async () => {
    const principal = gateway.keys.resolve('tg-k0')!;
    const limits = gateway.engine.applicable.uncached(principal, gateway.routes.resolve(principal, 'gpt-4o', 'chat')!);
    // u0 has used 600 of its 1,000-token day: the collapsed per-user series shows it.
    const used = await store.reserve({ id: 'q0', items: limits.map((l) => l.item), input: 600, output: 0, clamp: false, minOutput: 1 });
    expect(used.ok).toBe(true);
    await store.settle('q0', { input: 600, output: 0, request: 1 });

    const metrics = new GatewayMetrics({ userLabels: false, peek: (items) => store.peek(items), peekDegraded: (items) => store.peekDegraded!(items) });
    const otherUser = (l: AppliedLimit, i: number): AppliedLimit => ({ ...l, id: l.id.replace(':u0:', `:u${i}:`), item: { ...l.item, key: l.item.key.replace(':u0:', `:u${i}:`) } });
    for (let i = 0; i < USERS; i++) metrics.trackLimits('default', limits.map((l) => otherUser(l, i)));

    // A call arriving while the scrape reads is admitted, not refused as if Redis were down.
    const scrape = metrics.render();
    await new Promise((r) => setTimeout(r, 20));
    const during = await store.reserve({ id: 'q1', items: limits.map((l) => l.item), input: 10, output: 0, clamp: false, minOutput: 1 }).then(
      (r) => r.ok,
      (err: Error) => err.message,
    );
    const text = (await scrape).body;
    expect(during).toBe(true);

    // A timeout is confirmed with a PING before the store is marked down: give it the time to decide.
    await new Promise((r) => setTimeout(r, 300));
    expect(store.mode).toBe('ok');
    const f = families(text);
    expect(sum(f.get('tollgate_limit_utilization'), { limit: 'user:*:daily' })).toBeGreaterThanOrEqual(0.6);
    expect(sum(f.get('tollgate_limit_remaining_tokens'), { limit: 'org:default:daily' })).toBeLessThanOrEqual(100_000_000 - 600);
    expect(f.get('tollgate_limit_remaining_usd')?.metrics).toHaveLength(1);
    const next = await store.reserve({ id: 'q2', items: limits.map((l) => l.item), input: 10, output: 0, clamp: false, minOutput: 1 });
    expect(next.ok).toBe(true);
  }, 20_000);
});
