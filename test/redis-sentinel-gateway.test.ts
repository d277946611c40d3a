// Two real gateway processes whose counters live behind Redis Sentinel (a primary, a replica, three
// sentinels): limits hold exactly through the sentinel-named primary, and when the primary is killed
// under load, fail_closed answers 503 within the timeout in each provider's format, nothing crashes or
// hangs, and the gateways serve again from the promoted replica without a restart, counters exact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { Redis } from 'ioredis';
import { startFleet, type Fleet } from './helpers/redis-fleet.js';
import { ask, MASTER_NAME, startSentinelSetup, type SentinelSetup } from './helpers/redis-sentinel.js';
import { readCounter } from './helpers/redis-counters.js';
import { until } from './helpers/until.js';

const TIMEOUT_MS = 250;
const MAX_TOKENS = 40;
const RATE = 20; // requests per minute of tier t, before the failover
const RATE_AFTER = 10; // of tier t2, after it
const TOKEN_BUDGET = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const config = (url: string) => (mockUrl: string): string => `
storage: {counters: "${url}", instances: 2, on_store_error: fail_closed, timeout_ms: ${TIMEOUT_MS}}
providers:
  up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}
  ant: {type: anthropic, base_url: "${mockUrl}", api_key: sk-ant-test}
users:
  t: {rate_limit: {max_requests: ${RATE}}}
  t2: {rate_limit: {max_requests: ${RATE_AFTER}}}
projects:
  rated: {daily_limit: 100000000}
  tokens: {daily_limit: ${TOKEN_BUDGET}}
  big: {daily_limit: 100000000}
routes:
  r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}
  a: {chat_models: [{model_id: claude-haiku, model: ant/claude-3-5-haiku-latest}]}
keys:
  - {id: exact, key: tg-exact, user: u, tier: t, project: rated}
  - {id: after, key: tg-after, user: v, tier: t2, project: rated}
  - {id: tokens, key: tg-tokens, project: tokens}
  - {id: big, key: tg-big, project: big}
`;

let setup: SentinelSetup;
let fleet: Fleet;
/** A client of the primary the sentinels name now, as an operator's would be. */
let redis: Redis;

beforeAll(async () => {
  setup = await startSentinelSetup();
  fleet = await startFleet(2, config(setup.url), { TOLLGATE_LOG_LEVEL: 'info' });
  redis = new Redis({ sentinels: setup.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), name: MASTER_NAME });
  redis.on('error', () => {}); // it reconnects through the failover like the gateways
}, 30_000);
afterAll(async () => {
  redis?.disconnect();
  await fleet?.stop();
  await setup?.stop();
});

interface Answer {
  status: number;
  tokens: number;
  ms: number;
  sentAt: number;
  body: Record<string, unknown>;
  retryAfter: string | null;
}

const chatBody = (text: string): string => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: text }], max_tokens: MAX_TOKENS, mock_output_tokens: MAX_TOKENS });

async function chat(url: string, key: string, text = 'Count to three.'): Promise<Answer> {
  const sentAt = Date.now();
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: chatBody(text) });
  const body = (await res.json()) as Record<string, unknown> & { usage?: { total_tokens: number } };
  return { status: res.status, tokens: body.usage?.total_tokens ?? 0, ms: performance.now() - t0, sentAt, body, retryAfter: res.headers.get('retry-after') };
}

/** `n` requests at once, spread over both gateways. */
const burst = (key: string, n: number): Promise<Answer[]> => Promise.all(Array.from({ length: n }, (_, i) => chat(fleet.urls[i % fleet.urls.length], key, `Request ${i}: count to three.`)));
const count = (answers: Answer[], status: number): number => answers.filter((a) => a.status === status).length;
const tokensOf = (answers: Answer[]): number => answers.reduce((s, a) => s + a.tokens, 0);
/** Reservations not settled yet (the cancel of one whose answer was lost leaves an `x` tombstone for a minute). */
async function openRecords(): Promise<string[]> {
  const records = await redis.keys('tg:{default}:res:*');
  const values = records.length > 0 ? await redis.mget(...records) : [];
  return records.filter((_, i) => values[i] !== 'x');
}

describe('gateways on Redis Sentinel', () => {
  it('admit exactly what the limits hold, shared through the primary the sentinels name', async () => {
    await fleet.clearUpstream();
    const rated = await burst('tg-exact', 3 * RATE);
    expect(count(rated, 200)).toBe(RATE);
    expect(count(rated, 429)).toBe(2 * RATE);
    const refusal = rated.find((a) => a.status === 429)!;
    expect(refusal.body).toMatchObject({ error: { type: expect.any(String), message: expect.stringMatching(/rate/i) } });
    expect(Number(refusal.retryAfter)).toBeGreaterThan(0);
    expect((await fleet.upstreamRequests()).length).toBe(RATE);

    const tokens = await burst('tg-tokens', 40);
    const admitted = tokensOf(tokens);
    const perCall = Math.max(...tokens.map((a) => a.tokens));
    expect(count(tokens, 200) + count(tokens, 429)).toBe(40);
    expect(admitted).toBeLessThanOrEqual(TOKEN_BUDGET); // overshoot 0
    expect(admitted).toBeGreaterThan(TOKEN_BUDGET - 2 * perCall); // and the budget was really used
    await until(async () => (await openRecords()).length === 0, 5000);
    expect(await readCounter(redis, 'tg:{default}:project:tokens:daily:fixed_window')).toBe(admitted); // drift 0
  }, 30_000);

  it('a primary killed under load: 503 within the timeout meanwhile, then served by the promoted replica without a restart, counters exact', async () => {
    const loops = 6;
    const pools = fleet.urls.map((url) => new Pool(url, { connections: loops }));
    const samples: Answer[] = [];
    let running = true;
    const loop = async (n: number): Promise<void> => {
      for (let i = n; running; i += loops) {
        const sentAt = Date.now();
        const t0 = performance.now();
        try {
          const res = await pools[i % pools.length].request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', authorization: 'Bearer tg-big' }, body: chatBody('Count to three.') });
          const body = (await res.body.json()) as Record<string, unknown> & { usage?: { total_tokens: number } };
          samples.push({ status: res.statusCode, tokens: body.usage?.total_tokens ?? 0, ms: performance.now() - t0, sentAt, body, retryAfter: null });
        } catch {
          samples.push({ status: 0, tokens: 0, ms: performance.now() - t0, sentAt, body: {}, retryAfter: null }); // a status no test accepts
        }
      }
    };
    const done = Promise.all(Array.from({ length: loops }, (_, n) => loop(n)));
    try {
      await sleep(700);
      const oldPort = await setup.primaryPort();
      const replicaPort = setup.nodes.find((n) => n.port !== oldPort)!.port;
      // How far replication had got just before the kill (bytes of the replication stream).
      const offsetAtKill = Number(/master_repl_offset:(\d+)/.exec(String(await ask(oldPort, 'INFO', 'replication')))![1]);
      await setup.nodes.find((n) => n.port === oldPort)!.kill();
      const killedAt = Date.now();
      await sleep(300);
      const anthropic = await fetch(`${fleet.urls[0]}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'tg-big', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-haiku', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(anthropic.status).toBe(503);
      expect(anthropic.headers.get('retry-after')).toBe('1');
      expect(await anthropic.json()).toMatchObject({ type: 'error', error: { message: expect.stringMatching(/counter store/) } });

      expect(await setup.waitForFailover(oldPort)).toBe(replicaPort);
      const switchedAt = Date.now();
      // Replication offsets: the promoted replica's history ends where it stopped receiving.
      const promotedAt = Number(/second_repl_offset:(\d+)/.exec(String(await ask(replicaPort, 'INFO', 'replication')))![1]) - 1;
      await until(() => fleet.gateways.every((g) => /counter store reachable again/.test(g.output())), 10_000);
      await until(() => samples.some((s) => s.sentAt > switchedAt && s.status === 200), 10_000);
      const servedAt = Math.min(...samples.filter((s) => s.sentAt > killedAt && s.status === 200).map((s) => s.sentAt + s.ms));
      await sleep(500);
      running = false;
      await done;

      expect(samples.filter((s) => ![200, 503].includes(s.status))).toEqual([]);
      const during = samples.filter((s) => s.sentAt >= killedAt && s.sentAt + s.ms < switchedAt);
      expect(during.length).toBeGreaterThan(20);
      expect(during.filter((s) => s.status !== 503)).toEqual([]);
      expect(Math.max(...during.map((s) => s.ms))).toBeLessThanOrEqual(TIMEOUT_MS + 50);
      expect(Math.max(...samples.map((s) => s.ms))).toBeLessThan(2000); // no request hangs, even the one that waited for a rebuild
      const recovered = samples.filter((s) => s.sentAt > Date.now() - 400);
      expect(recovered.length).toBeGreaterThan(0);
      expect(recovered.filter((s) => s.status !== 200)).toEqual([]);
      for (const g of fleet.gateways) {
        expect(g.child.exitCode).toBeNull();
        expect(g.output()).toMatch(/counter store unreachable: refusing requests with 503/);
        expect(g.output()).not.toMatch(/Unhandled error event/);
        // The promoted replica may lack the last writes: each gateway rebuilt from the ledger once.
        expect(g.output().match(/rebuilding them from the ledger/g)).toHaveLength(1);
      }

      // Drift: the promoted primary ends at exactly the usage the clients were told of.
      await until(async () => (await openRecords()).length === 0, 5000);
      const counted = await readCounter(redis, 'tg:{default}:project:big:daily:fixed_window');
      const settled = tokensOf(samples);
      console.log(
        `sentinel failover: switched ${switchedAt - killedAt} ms after the kill, served again ${servedAt - killedAt} ms after it; ` +
          `replica stopped at offset ${promotedAt} (primary at ${offsetAtKill} just before the kill: ${Math.max(0, offsetAtKill - promotedAt)} bytes behind); ` +
          `counter ${counted} vs settled ${settled}`,
      );
      expect(counted).toBe(settled);
      expect(promotedAt).toBeGreaterThanOrEqual(offsetAtKill);

      // Counting goes on, exactly, on the new primary.
      const after = await burst('tg-after', 3 * RATE_AFTER);
      expect(count(after, 200)).toBe(RATE_AFTER);
      expect(count(after, 429)).toBe(2 * RATE_AFTER);
    } finally {
      running = false;
      await done;
      await Promise.all(pools.map((p) => p.close()));
    }
  }, 45_000);
});
