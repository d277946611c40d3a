// The adversary's burst, on the memory store and on Redis: two keys of one user (same tier, same group) and a
// third in the group, racing 240 calls at once through every endpoint shape that reserves differently
// (chat with n = 2, streamed and not, legacy completions with two prompts, Responses, calls without a cap),
// with prompts long enough that the cheap input bound (UTF-8 bytes) is reserved first and the exact count only
// when a limit is tight (the engine refunds the first reservation and tries again), clamping on, against a
// tier daily limit, a group's route input limit (sliding window) and output limit (fixed window) and a
// project request_limit. Every limit must end at or under its max (overshoot 0), every counter equal to the
// usage its calls settled (drift 0), and no call may reach the provider with more than its clamp.
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import { openCounterStore } from '../src/limits/open-counter-store.js';
import type { CounterStore } from '../src/limits/counter-store.js';
import { Gateway, type CallRecord } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { systemClock } from '../src/util/clock.js';
import { mulberry32 } from '../src/util/prng.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { writeConfig } from './helpers/processes.js';

const REDIS_DB = 11;
const REDIS_URL = `redis://127.0.0.1:6379/${REDIS_DB}`;

const config = (counters: string): string => `
server: {timezone: UTC}
# A timeout far above the default 250 ms: this checks overshoot, not outages, and with three test files at
# once on two cores one Redis call of the burst took longer (a 503, CI 12-07).
storage: {counters: "${counters}", timeout_ms: 5000}
providers: {demo: {type: mock, latency_ms: 3, output_tokens: 60}}
projects: {p: {daily_limit: 10000000, request_limit: 2500}}
users: {tier_a: {daily_limit: 12000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
    token_limiting:
      scope: group
      input: {algorithm: sliding_window, window_size: 1 hour, max_token: 14000}
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 9000}
keys:
  - {id: a1, key: tg-a1, project: p, user: alice, tier: tier_a, groups: [g]}
  - {id: a2, key: tg-a2, project: p, user: alice, tier: tier_a, groups: [g]}
  - {id: b1, key: tg-b1, project: p, user: bob, tier: tier_a, groups: [g]}
`;

const WORDS = ['budget', 'gateway', 'token', '東京', 'émoji 🎉', 'limit', 'stream', 'π≈3.14159', 'naïve', 'Ωmega'];

/** A random call: its path and body. */
function randomCall(rand: () => number, i: number): { path: string; body: Record<string, unknown> } {
  const words = Array.from({ length: 40 + Math.floor(rand() * 300) }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' ');
  const cap = rand() < 0.15 ? undefined : 20 + Math.floor(rand() * 400);
  const out = Math.floor(rand() * 500);
  const kind = i % 5;
  if (kind === 0) return { path: '/v1/completions', body: { model: 'gpt-4o', prompt: [words, words.slice(0, 80)], ...(cap ? { max_tokens: cap } : {}), mock_output_tokens: out } };
  if (kind === 1) return { path: '/v1/responses', body: { model: 'gpt-4o', input: words, ...(cap ? { max_output_tokens: Math.max(16, cap) } : {}), mock_output_tokens: out, stream: rand() < 0.5 } };
  const n = kind === 2 ? 2 : 1;
  return { path: '/v1/chat/completions', body: { model: 'gpt-4o', messages: [{ role: 'user', content: words }], n, ...(cap ? { max_tokens: cap } : {}), mock_output_tokens: out, stream: kind === 3 } };
}

for (const counters of ['memory', REDIS_URL]) {
  describe(`a mixed burst from two keys of one user and a third in their group (${counters === 'memory' ? 'memory' : 'Redis'})`, () => {
    let store: CounterStore;
    let gateway: Gateway;
    let app: ReturnType<typeof buildServer>;
    let url: string;
    const calls: CallRecord[] = [];

    beforeAll(async () => {
      if (counters !== 'memory') {
        const raw = new Redis(REDIS_URL);
        await raw.flushdb();
        await raw.quit();
      }
      const policy = loadPolicy([writeConfig(config(counters))]);
      const log = { info: () => {}, warn: () => {}, error: () => {} };
      store = await openCounterStore(policy, log);
      gateway = new Gateway(policy, store, systemClock);
      gateway.onCall((c) => calls.push(c));
      app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes });
      url = await listenLocal(app);
    });
    afterAll(async () => {
      if (app) await closeApp(app);
      await gateway?.background.finishAll();
      await gateway?.close();
      if (counters !== 'memory') {
        const raw = new Redis(REDIS_URL);
        await raw.flushdb();
        await raw.quit();
      }
    });

    it('ends every limit at or under its max, each counter equal to the usage its calls settled', async () => {
      const rand = mulberry32(20261206);
      const keys = ['tg-a1', 'tg-a2', 'tg-b1'];
      const pool = new Pool(url, { connections: 240 });
      const statuses = await Promise.all(
        Array.from({ length: 240 }, async (_, i) => {
          const { path, body } = randomCall(rand, i);
          const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json', authorization: `Bearer ${keys[i % 3]}` }, body: JSON.stringify(body) });
          await res.body.dump();
          return res.statusCode;
        }),
      );
      await pool.close();
      // The burst was large enough to hit the limits, and not so large that nothing passed.
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(20);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(20);
      expect(statuses.filter((s) => s !== 200 && s !== 429 && s !== 400)).toEqual([]);

      const admitted = calls.filter((c) => c.decision === 'admitted' || c.decision === 'clamped');
      // No call produced more than its grant, nor used more input than it reserved.
      for (const c of admitted) {
        expect(c.usage.output).toBeLessThanOrEqual(c.reserved.output);
        expect(c.usage.input).toBeLessThanOrEqual(c.reserved.input);
        expect(c.usage.input + c.reserved.output).toBeLessThanOrEqual(2500);
      }
      const sample = admitted.find((c) => c.principal.keyId === 'a1')!;
      for (const keyId of ['a1', 'b1']) {
        const who = admitted.find((c) => c.principal.keyId === keyId) ?? sample;
        const limits = gateway.engine.applicable.for(who.principal, who.target);
        const states = await store.peek(limits.map((l) => l.item));
        limits.forEach((limit, i) => {
          const mine = admitted.filter((c) => c.limits.includes(limit.id));
          const settled = mine.reduce((s, c) => s + limit.item.weights.input * c.usage.input + limit.item.weights.output * c.usage.output + limit.item.weights.request, 0);
          expect({ limit: limit.id, used: states[i].used }).toEqual({ limit: limit.id, used: settled });
          expect(states[i].used).toBeLessThanOrEqual(states[i].max);
        });
      }
    });
  });
}
