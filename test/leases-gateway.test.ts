// Budget leases behind the gateway, through the official openai SDK: streamed and plain calls admitted
// against leases are settled from the usage the answers report, so once the leases are handed back the
// Redis counters hold exactly what the client was told it used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Redis } from 'ioredis';
import { loadPolicy } from '../src/config/index.js';
import { LeasedStore } from '../src/limits/leased-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { Gateway } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { monotonicClock, systemClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { until } from './helpers/until.js';
import { writeConfig } from './helpers/processes.js';
import { readCounter } from './helpers/redis-counters.js';
import { usePrivateRedis } from './helpers/redis-servers.js';

const config = (redisUrl: string): string => `
server: {timezone: UTC}
storage: {counters: "${redisUrl}", lease_ms: 1000}
providers: {demo: {type: mock, latency_ms: 2, output_tokens: 20}}
organization: {daily_cap: 10000000}
users: {tier_a: {daily_limit: 1000000, rate_limit: 100000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
    token_limiting:
      output: {algorithm: sliding_window, window_size: 1 hour, max_token: 1000000}
keys:
  - {id: k, key: tg-k, user: alice, tier: tier_a}
`;

describe('budget leases behind the gateway', () => {
  const server = usePrivateRedis();
  let raw: Redis;
  let store: LeasedStore;
  let gateway: Gateway;
  let app: ReturnType<typeof buildServer>;
  let client: OpenAI;

  beforeAll(async () => {
    raw = new Redis(server.url);
    const policy = loadPolicy([writeConfig(config(server.url))]);
    const redisClient = createRedisClient(server.url, 2000);
    expect(await waitReady(redisClient, 5000)).toBe(true);
    store = new LeasedStore(new RedisCounterStore(redisClient, { timezone: 'UTC', clock: systemClock, reservationTtlMs: 60_000 }), { leaseMs: 1000, clock: monotonicClock });
    gateway = new Gateway(policy, store, systemClock);
    app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes });
    client = new OpenAI({ apiKey: 'tg-k', baseURL: `${await listenLocal(app)}/v1`, maxRetries: 0 });
  }, 30_000);
  afterAll(async () => {
    if (app) await closeApp(app);
    await gateway?.close();
    await raw?.quit();
  });

  it('streamed and plain calls admitted against leases: the counters end at the usage the client was told', async () => {
    let total = 0;
    let output = 0;
    for (let i = 0; i < 30; i++) {
      if (i % 2 === 0) {
        const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Stream ${i}` }], max_tokens: 50, stream: true, stream_options: { include_usage: true } });
        let usage: OpenAI.CompletionUsage | undefined | null;
        for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
        expect(usage).toBeTruthy();
        total += usage!.total_tokens;
        output += usage!.completion_tokens;
      } else {
        const answer = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Plain ${i}` }], max_tokens: 50 });
        total += answer.usage!.total_tokens;
        output += answer.usage!.completion_tokens;
      }
    }
    // Most calls went without a reservation round trip, and every one was settled from its reported usage. (Leases of
    // 1 s: with 300 ms ones, a machine busy enough to slow the 30 calls down let too many leases lapse between them.)
    expect(store.leaseStats().localAdmissions).toBeGreaterThan(15);
    await until(async () => store.leaseStats().open === 0, 5000);
    expect(await readCounter(raw, 'tg:{default}:org:daily:fixed_window')).toBe(total);
    expect(await readCounter(raw, 'tg:{default}:user:alice:daily:fixed_window')).toBe(total);
    expect(await readCounter(raw, 'tg:{default}:route:r:output:sliding_window')).toBe(output);
  });
});
