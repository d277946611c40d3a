// A call's settlement reaches the shared store before its ledger row is written: the row of a call
// (`rowFollows`) waits for Redis to answer its settlement (ResilientStore.rowAfter); the response does
// not. Written at once, the row of a settlement redirected during a graceful cluster failover was in the
// ledger before the settlement reached the new primary; a rebuild reading the ledger in between counted
// the call twice, in the row and in the reservation still held (test/redis-cluster-failover.test.ts:
// counter 12,000 against 11,972 settled). On a private Redis behind a delay proxy, slower than nothing
// and faster than the timeout.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CounterItem } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady, type RedisClient } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ResilientStore } from '../src/limits/resilient-store.js';
import { systemClock } from '../src/util/clock.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { startDelayProxy, type DelayProxy } from './helpers/redis-delay-proxy.js';
import { readCounter } from './helpers/redis-counters.js';
import { createMockUpstream } from '../src/mock-upstream/index.js';
import { startCli, writeConfig } from './helpers/processes.js';

const redis = usePrivateRedis();
const DELAY_MS = 400;

let proxy: DelayProxy;
let direct: RedisClient;
let store: ResilientStore;
const daily: CounterItem = { key: 'tg:{settle-row}:daily:fixed_window', algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 10_000, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };

beforeAll(async () => {
  proxy = await startDelayProxy(redis.port);
  const client = createRedisClient(proxy.url, 5 * DELAY_MS);
  direct = createRedisClient(redis.url, 1000);
  if (!(await waitReady(client, 5000)) || !(await waitReady(direct, 5000))) throw new Error('no Redis');
  const primary = new RedisCounterStore(client, { timezone: 'UTC', clock: systemClock, reservationTtlMs: 60_000 });
  store = new ResilientStore(primary, { defaultMode: 'fail_closed', instances: 1, timezone: 'UTC', clock: systemClock, log: { info: () => {}, warn: () => {} }, description: 'settle-row', probeIntervalMs: 50 });
});
afterAll(async () => {
  await store?.close();
  direct?.disconnect();
  await proxy?.close();
});

const reserve = (id: string, input: number) => store.reserve({ id, items: [daily], input, output: 0, clamp: false, minOutput: 0 });
const counter = (): Promise<number> => readCounter(direct, daily.key);

describe('a settlement on a slow connection', () => {
  it("a call's row waits for the store's answer; the call itself does not", async () => {
    expect((await reserve('call', 100)).ok).toBe(true);
    const before = await counter();
    proxy.setDelay(DELAY_MS);
    await store.settle('call', { input: 30, output: 0, request: 1, rowFollows: true });
    // Answered at once (the response does not wait a round trip): Redis still holds the reservation's 100.
    expect(await counter()).toBe(before);
    const rowAfter = store.rowAfter('call');
    expect(rowAfter).toBeDefined();
    await rowAfter;
    // The row may be written now: Redis has replaced the reservation's 100 with the 30 used.
    expect(await counter()).toBe(before - 70);
    expect(store.rowAfter('call')).toBeUndefined();
    proxy.setDelay(0);
  });

  it('a report read meanwhile waits for the rows whose settlement is on its way (settlingRows)', async () => {
    for (const id of ['r1', 'r2']) expect((await reserve(id, 100)).ok).toBe(true);
    proxy.setDelay(DELAY_MS);
    const written: string[] = [];
    for (const id of ['r1', 'r2']) {
      await store.settle(id, { input: 10, output: 0, request: 1, rowFollows: true });
      void store.rowAfter(id)!.then(() => written.push(id)); // what the ledger's writer does
    }
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    expect(written).toEqual([]); // still on their way
    await store.settlingRows();
    expect(written).toEqual(['r1', 'r2']);
    expect(Date.now() - from).toBeGreaterThanOrEqual(DELAY_MS);
    proxy.setDelay(0);
  });

  it("a refund's is not waited for by anything (no row follows it)", async () => {
    expect((await reserve('refunded', 100)).ok).toBe(true);
    const held = await counter();
    proxy.setDelay(DELAY_MS);
    await store.settle('refunded', { input: 0, output: 0, request: 0 });
    expect(store.rowAfter('refunded')).toBeUndefined();
    expect(await counter()).toBe(held);
    await store.quiesce();
    expect(await counter()).toBe(held - 100);
    proxy.setDelay(0);
  });
});

describe('the dashboard right after a call on a slow connection to Redis', () => {
  it("counts the call: its row, waiting for the settlement's answer, is written before the report reads", async () => {
    const upstream = createMockUpstream({ latencyMs: 0, outputTokens: 5 });
    const mockUrl = await upstream.listen(0, '127.0.0.1');
    const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-slow-settle-'));
    const gw = await startCli(['serve', '--port', '0', '--config', writeConfig(`
storage: {counters: "${proxy.url}", ledger: "sqlite:${path.join(dir, 'ledger.db')}", timeout_ms: 3000}
server: {admin_key: admin-slow}
providers: {up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}}
organizations: {org_s: {daily_cap: 100000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}}
keys: [{id: k, key: tg-slow, organization: org_s}]
`)]);
    try {
      const call = async (): Promise<number> => {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: 'Bearer tg-slow', 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { usage: { total_tokens: number } };
        return body.usage.total_tokens;
      };
      const today = async (): Promise<{ tokens: number; requests: number }> => {
        const res = await fetch(`${gw.url}/api/tokens/dashboard?org=org_s`, { headers: { authorization: 'Bearer admin-slow' } });
        expect(res.status).toBe(200);
        return ((await res.json()) as { history: Array<{ tokens: number; requests: number }> }).history.at(-1)!;
      };
      let tokens = await call();
      proxy.setDelay(DELAY_MS); // the settlement's answer now comes 2 × DELAY_MS after the response
      tokens += await call();
      expect(await today()).toMatchObject({ requests: 2, tokens });
    } finally {
      proxy.setDelay(0);
      await gw.stop();
      await upstream.close();
    }
  }, 20_000);
});
