// Redis loses the counters while the ledger they are rebuilt from is slow: another connection holds a lock
// on the ledger table (as a migration or a `LOCK TABLE` by an operator would), so the rebuild's query waits
// on it. A request waits for the rebuild at most `storage.rebuild_wait_ms`, then gets the store's failure
// behaviour (fail_closed: 503 saying the counters are being rebuilt; fail_open: local counters) while the
// rebuild goes on; once it is done, requests are admitted against the rebuilt counters. Before the bound,
// every request hung until the lock was released.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { createMockUpstream } from '../src/mock-upstream/index.js';
import { lockLedgerTable } from './helpers/ledger-lock.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { servedAtMidday } from './helpers/midday-zone.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { rawCommand, usePrivateRedis } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const WAIT_MS = 400;
/** What a request may take beyond the wait (fail_open: its upstream call too) on a busy 2-core test host. */
const SLACK_MS = 2000;
const BUDGET = 100_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const redis = usePrivateRedis();
let upstream: ReturnType<typeof createMockUpstream>;
let mockUrl: string;

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 20 });
  mockUrl = await upstream.listen(0, '127.0.0.1');
}, 30_000);
afterAll(async () => {
  await upstream?.close();
});

describe.each(['fail_closed', 'fail_open'] as const)('a rebuild slower than storage.rebuild_wait_ms (%s)', (mode) => {
  let place: LedgerPlace;
  let gateway: RunningProcess;
  let locker: postgres.Sql;
  const project = `p_${mode}`;

  beforeAll(async () => {
    place = await postgresPlace();
    gateway = await startCli(['serve', '--port', '0', '--config', writeConfig(servedAtMidday(`
storage: {counters: "${redis.url}", ledger: "${place.url}", on_store_error: ${mode}, rebuild_wait_ms: ${WAIT_MS}}
ledger: {flush_interval_ms: 50}
providers:
  up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}
  ant: {type: anthropic, base_url: "${mockUrl}", api_key: sk-ant-test}
organizations: {org_${mode}: {}}
projects: {${project}: {daily_limit: ${BUDGET}}}
routes:
  r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}
  a: {chat_models: [{model_id: claude-haiku, model: ant/claude-3-5-haiku-latest}]}
keys: [{id: k, key: tg-k, organization: org_${mode}, project: ${project}}]
`), `${mode}.yaml`)], { TOLLGATE_LOG_LEVEL: 'info' });
    locker = postgres(place.url, { max: 1, onnotice: () => {} });
  }, 30_000);
  afterAll(async () => {
    await locker?.end({ timeout: 1 });
    await gateway?.stop();
    await place?.drop();
  });

  const chat = (signal?: AbortSignal) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
      ...(signal ? { signal } : {}),
    });
  const messages = (signal: AbortSignal) =>
    fetch(`${gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'tg-k', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-haiku', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
      signal,
    });
  /** Tokens charged so far, by the answer of one more call (it is counted too: its own usage is added). */
  const remainingAfterCall = async (): Promise<{ remaining: number; spent: number }> => {
    const res = await chat();
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    return { remaining: Number(res.headers.get('x-ratelimit-remaining-tokens')), spent: body.usage.prompt_tokens + body.usage.completion_tokens };
  };

  it('bounds the wait, answers per its mode while the rebuild runs, and admits against the rebuilt counters after it', async () => {
    let spent = 0;
    for (let i = 0; i < 5; i++) spent += (await remainingAfterCall()).spent;
    await sleep(300); // the ledger has every row (flushed every 50 ms)

    // The rebuild's ledger query will wait on this lock, as long as the transaction holds it.
    const release = await lockLedgerTable(locker);
    await rawCommand(redis.port, 'FLUSHALL');

    const during: Array<{ status: number; ms: number }> = [];
    try {
      for (let i = 0; i < 4; i++) {
        const openai = i % 2 === 0;
        const t0 = performance.now();
        // Without the bound the request waits for the lock: the abort turns that into a failure here.
        const signal = AbortSignal.timeout(WAIT_MS + 3 * SLACK_MS);
        const res = openai ? await chat(signal) : await messages(signal);
        during.push({ status: res.status, ms: performance.now() - t0 });
        const body = (await res.json()) as Record<string, any>;
        if (mode === 'fail_closed') {
          expect(res.status).toBe(503);
          expect(res.headers.get('retry-after')).toBe('1');
          // Each in its provider's format: OpenAI's error object with the code, Anthropic's `type: error`.
          if (openai) expect(body.error.code).toBe('counters_not_rebuilt');
          else expect(body.type).toBe('error');
          expect(body.error.message).toMatch(/being rebuilt from the usage ledger/);
        } else {
          expect(res.status).toBe(200);
          spent += openai ? body.usage.prompt_tokens + body.usage.completion_tokens : body.usage.input_tokens + body.usage.output_tokens;
        }
      }
    } finally {
      release();
    }
    // Each waited the bound (the rebuild was still held by the lock), not much more.
    for (const d of during) expect(d.ms).toBeGreaterThanOrEqual(WAIT_MS - 5);
    for (const d of during) expect(d.ms).toBeLessThan(WAIT_MS + SLACK_MS);

    // The rebuild goes on in the background and finishes once the lock is gone; then requests are admitted
    // against the rebuilt counters.
    await until(() => /counters rebuilt from the ledger/.test(gateway.output().split('rebuilding them from the ledger').at(-1)!), 10_000);
    await sleep(300); // fail_open: the local usage is replayed after the rebuild
    const after = await remainingAfterCall();
    spent += after.spent;
    // Exactly what was spent: nothing handed out again, and nothing admitted locally counted twice.
    expect(after.remaining).toBe(BUDGET - spent);
  }, 30_000);
});
