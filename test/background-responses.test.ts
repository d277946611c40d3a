// Background responses (`background: true` on /v1/responses): answered `queued` with no usage, generated
// after the gateway answered (background-calls.ts). The official SDK against a gateway in front of a small
// stateful upstream that answers as the real API does: the POST `queued`, then GET /v1/responses/{id}
// `in_progress` until the response ends and `completed` with its usage after; DELETE forgets it. While
// a call runs its whole grant is held; once the provider reports its end, the call is settled and
// recorded with the provider's figures; otherwise (never ends, deleted, gateway stopping) with the grant.
import type { IncomingMessage, ServerResponse } from 'node:http';
import OpenAI from 'openai';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import { auditCounters } from '../src/ledger/audit.js';
import type { CounterItem } from '../src/limits/counter-store.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { openCounterStore } from '../src/limits/open-counter-store.js';
import { BackgroundCalls, DEFAULT_POLLING } from '../src/proxy/background-calls.js';
import { Gateway, type CallRecord } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { systemClock } from '../src/util/clock.js';
import { closeApp, listenLocal, type TestGateway } from './helpers/in-process.js';
import { until } from './helpers/until.js';
import { writeConfig } from './helpers/processes.js';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';
import { withUsageGateway } from './helpers/usage-gateway.js';
import { okOr429, responseObject } from './helpers/wire-upstream.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

/** How the upstream's responses end: after this long, with this many output tokens; a novel never ends. */
const RUN_MS = 300;
const HAIKU_OUTPUT = 42;
const STREAM_OUTPUT = 123;
const INPUT_TOKENS = 20;
/** The gateway's reservation TTL here: a background call is given up on after half of it (2 s). */
const RESERVATION_TTL_MS = 4_000;
const LIMIT = 5_000;

interface Stored {
  body: Record<string, unknown>;
  /** When it ends (epoch ms), or never. */
  endsAt: number;
  output: number;
}

let nextId = 1;
const stored = new Map<string, Stored>();
/** Every GET /v1/responses/{id} the upstream answered, by id. */
const polls = new Map<string, number>();

/** The stored response as the provider shows it: with its usage once it has ended. */
function shown(id: string, s: Stored, status: string): Record<string, unknown> {
  const usage = { input_tokens: INPUT_TOKENS, input_tokens_details: { cached_tokens: 0 }, output_tokens: s.output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: INPUT_TOKENS + s.output };
  return responseObject(id, s.body, status, status === 'completed' ? usage : null);
}

const json = (res: ServerResponse, status: number, body: object): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const notFound = (res: ServerResponse, id: string): void =>
  json(res, 404, { error: { message: `Response with id '${id}' not found.`, type: 'invalid_request_error', param: null, code: null } });

/** A streamed background response: queued, then text deltas every 50 ms for as long as anyone reads; it ends RUN_MS after the client leaves. */
function streamBackground(id: string, s: Stored, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  let seq = 0;
  const send = (type: string, data: object): boolean => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
  send('response.created', { response: shown(id, s, 'queued') });
  send('response.in_progress', { response: shown(id, s, 'in_progress') });
  send('response.output_item.added', { output_index: 0, item: { id: `msg_${id}`, type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
  send('response.content_part.added', { item_id: `msg_${id}`, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
  const timer = setInterval(() => {
    if (!res.destroyed) send('response.output_text.delta', { item_id: `msg_${id}`, output_index: 0, content_index: 0, delta: ' word', logprobs: [] });
  }, 50);
  res.on('close', () => {
    clearInterval(timer);
    s.endsAt = Date.now() + RUN_MS;
  });
}

function answer(req: IncomingMessage, res: ServerResponse, raw: string): void {
  const path = req.url ?? '';
  const byId = /^\/v1\/responses\/([^/?]+)$/.exec(path);
  if (byId) {
    const id = byId[1];
    const s = stored.get(id);
    if (!s) return notFound(res, id);
    if (req.method === 'DELETE') {
      stored.delete(id);
      return json(res, 200, { id, object: 'response', deleted: true });
    }
    polls.set(id, (polls.get(id) ?? 0) + 1);
    return json(res, 200, shown(id, s, Date.now() >= s.endsAt ? 'completed' : 'in_progress'));
  }
  const body = JSON.parse(raw) as Record<string, unknown>;
  const id = `resp_${nextId++}`;
  const novel = String(body.input).includes('novel');
  const s: Stored = { body, endsAt: novel || body.stream === true ? Infinity : Date.now() + RUN_MS, output: body.stream === true ? STREAM_OUTPUT : HAIKU_OUTPUT };
  stored.set(id, s);
  if (body.stream === true) return streamBackground(id, s, res);
  // A call in the foreground is answered once generated.
  json(res, 200, shown(id, s, body.background === true ? 'queued' : 'completed'));
}

const config = (url: string, ledgerUrl?: string, durability = 'batched'): string => `
server: {timezone: UTC}
ledger: {durability: ${durability}}
storage: {reservation_ttl_ms: ${RESERVATION_TTL_MS}${ledgerUrl ? `, ledger: "${ledgerUrl}"` : ''}}
pricing: {openai/gpt-4.1: {input: 2.0, output: 8.0}}
providers: {openai: {type: openai, base_url: "${url}"}}
projects:
  p1: {daily_limit: ${LIMIT}}
  p2: {daily_limit: ${LIMIT}}
  p3: {daily_limit: ${LIMIT}}
  p4: {daily_limit: ${LIMIT}}
  p5: {daily_limit: ${LIMIT}}
routes:
  r:
    chat_models:
      - {model_id: gpt-4.1, model: openai/gpt-4.1}
keys:
  - {id: k1, key: tg-k1, project: p1}
  - {id: k2, key: tg-k2, project: p2}
  - {id: k3, key: tg-k3, project: p3}
  - {id: k4, key: tg-k4, project: p4}
  - {id: k5, key: tg-k5, project: p5}
`;

const client = (key: string): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
const callsOf = (keyId: string): CallRecord[] => gw().calls.filter((c) => c.principal.keyId === keyId);

/** Waits (up to `ms`) for `count` records of `keyId`'s calls. */
async function recordsOf(keyId: string, count: number, ms = 5_000): Promise<CallRecord[]> {
  await until(() => callsOf(keyId).length >= count, ms);
  return callsOf(keyId);
}

/** The project's daily counter, as the limits see it. */
async function dailyUsed(project: string, store: { peek: TestGateway['store']['peek'] } = gw().store): Promise<number> {
  const item: CounterItem = { key: `tg:{default}:project:${project}:daily:fixed_window`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: LIMIT, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
  return (await store.peek([item]))[0].used;
}

const { gw, upstream } = useBehindWireUpstream(answer, config);

describe('background responses', () => {
  it('hold their whole grant while they run, then are settled and recorded with the usage the provider reports', async () => {
    const asked = performance.now();
    const created = await client('tg-k1').responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 4_000, background: true });
    const answeredInMs = performance.now() - asked;
    expect(created.status).toBe('queued');
    // Answered, not yet ended: the grant stays counted, so a second such call gets only the room beside it.
    expect(callsOf('k1')).toEqual([]);
    expect(await dailyUsed('p1')).toBeGreaterThanOrEqual(4_000);
    const second = await client('tg-k1').responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 4_000, background: true }).withResponse();
    expect(Number(second.response.headers.get('x-tollgate-clamped-max-tokens'))).toBeLessThanOrEqual(LIMIT - 4_000);

    const rows = await recordsOf('k1', 2);
    const first = rows.find((c) => c.providerResponseId === created.id)!;
    expect(first.usage).toMatchObject({ input: INPUT_TOKENS, output: HAIKU_OUTPUT, source: 'provider' });
    expect(first).toMatchObject({ status: 200, reserved: { output: 4_000 } });
    // The time the gateway took to answer, not the time until it was settled (its first poll, a second
    // after the answer): within the client's own wait for that answer, however slow a loaded machine makes
    // a cold first call (a fixed 1 s bound failed there).
    expect(first.latencyMs).toBeLessThanOrEqual(answeredInMs);
    expect(rows.map((c) => c.usage.source)).toEqual(['provider', 'provider']);
    expect(await dailyUsed('p1')).toBe(2 * (INPUT_TOKENS + HAIKU_OUTPUT));
    expect(await gw().store.openReservations()).toBe(0);
    expect(gw().gateway.background.size).toBe(0);
    // The room is back: the same call gets its whole cap.
    const again = await client('tg-k1').responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 4_000, background: true }).withResponse();
    expect(again.response.headers.get('x-tollgate-clamped-max-tokens')).toBeNull();
    await recordsOf('k1', 3);
  });

  it('one that never ends is charged its whole grant at the deadline, so looping them cannot pass the limit', async () => {
    const results: unknown[] = [];
    for (let i = 0; i < 8; i++) results.push(await okOr429(client('tg-k2').responses.create({ model: 'gpt-4.1', input: 'Write a novel.', max_output_tokens: 1_000, background: true })));
    expect(results.filter((o) => o !== 'ok' && o !== '429')).toEqual([]);
    const admitted = results.filter((o) => o === 'ok').length;
    expect(admitted).toBeGreaterThan(0);
    expect(results).toContain('429');
    // Given up on after half the reservation TTL (2 s): each admitted call's row has its whole grant.
    const rows = (await recordsOf('k2', 8, 4_000)).filter((c) => c.status === 200);
    expect(rows).toHaveLength(admitted);
    for (const c of rows) expect(c.usage).toMatchObject({ output: c.reserved.output, input: c.reserved.input, source: 'estimated' });
    expect(rows.reduce((n, c) => n + c.reserved.input + c.reserved.output, 0)).toBeLessThanOrEqual(LIMIT);
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('a streamed one whose client leaves is settled with the usage the provider reports when it ends', async () => {
    const stream = await client('tg-k3').responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 4_000, background: true, stream: true });
    let deltas = 0;
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta' && ++deltas === 2) break; // leaves: the SDK aborts the request
    }
    const [row] = await recordsOf('k3', 1);
    expect(row).toMatchObject({ status: 499, streamEnd: 'client_gone' });
    expect(row.usage).toMatchObject({ input: INPUT_TOKENS, output: STREAM_OUTPUT, source: 'provider' });
    expect(await dailyUsed('p3')).toBe(INPUT_TOKENS + STREAM_OUTPUT);
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('one deleted before it ended is charged its whole grant at the next poll, and asked about no more', async () => {
    const created = await client('tg-k4').responses.create({ model: 'gpt-4.1', input: 'Write a novel.', max_output_tokens: 1_000, background: true });
    await client('tg-k4').responses.delete(created.id);
    const t0 = performance.now();
    const [row] = await recordsOf('k4', 1);
    // At the first poll (1 s), well before the deadline (2 s).
    expect(performance.now() - t0).toBeLessThan(1_800);
    expect(row.usage).toMatchObject({ output: 1_000, source: 'estimated' });
    expect(polls.get(created.id)).toBeUndefined(); // the upstream answered its 404 only
    await new Promise((r) => setTimeout(r, 1_200));
    expect(polls.get(created.id)).toBeUndefined();
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('still running when the gateway stops: recorded at once with the whole grant', async () => {
    await client('tg-k5').responses.create({ model: 'gpt-4.1', input: 'Write a novel.', max_output_tokens: 1_000, background: true });
    expect(gw().gateway.background.size).toBe(1);
    await gw().gateway.background.finishAll();
    expect(callsOf('k5')).toEqual([expect.objectContaining({ status: 200, usage: expect.objectContaining({ output: 1_000, source: 'estimated' }) })]);
    expect(gw().gateway.background.size).toBe(0);
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('ended since its last poll when the gateway stops: asked once more, and recorded with the usage the provider reports', async () => {
    const created = await client('tg-k5').responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 1_000, background: true });
    // The provider ends it after RUN_MS; the gateway's first poll would come only after a second.
    await new Promise((r) => setTimeout(r, RUN_MS + 100));
    expect(polls.get(created.id)).toBeUndefined();
    await gw().gateway.background.finishAll();
    expect(callsOf('k5')[1]).toMatchObject({ providerResponseId: created.id, usage: { output: HAIKU_OUTPUT, source: 'provider' } });
    expect(await gw().store.openReservations()).toBe(0);
  });
});

describe('background responses past the most followed at once', () => {
  it('are charged their whole grant at once, while those followed already are still settled from the provider', async () => {
    const policy = loadPolicy([writeConfig(config(upstream().url))], process.env);
    const store = new MemoryCounterStore(systemClock, 'UTC');
    const gateway = new Gateway(policy, store, systemClock, undefined, undefined, new BackgroundCalls(DEFAULT_POLLING, 1));
    const calls: CallRecord[] = [];
    gateway.onCall((r) => calls.push(r));
    const app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes });
    try {
      const c = new OpenAI({ baseURL: `${await listenLocal(app)}/v1`, apiKey: 'tg-k1', maxRetries: 0 });
      const followed = await c.responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 1_000, background: true });
      const second = await c.responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 1_000, background: true });
      expect(gateway.background.size).toBe(1);
      expect(calls).toEqual([expect.objectContaining({ providerResponseId: second.id, usage: expect.objectContaining({ output: 1_000, source: 'estimated' }) })]);
      await until(() => calls.length >= 2);
      expect(calls[1]).toMatchObject({ providerResponseId: followed.id, usage: { output: HAIKU_OUTPUT, source: 'provider' } });
    } finally {
      await closeApp(app);
      await gateway.background.finishAll();
      await gateway.close();
    }
  });
});

describe('background responses in the ledger and on /metrics', () => {
  it('a row with the provider’s figures once it ends, and a gauge of the calls still generating', async () => {
    await withUsageGateway(
      (ledgerUrl) => config(upstream().url, ledgerUrl),
      async (ugw) => {
        const c = new OpenAI({ baseURL: `${ugw.url}/v1`, apiKey: 'tg-k1', maxRetries: 0 });
        const created = await c.responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 4_000, background: true });
        const pending = (m: Map<string, unknown>): number => sum(m.get('tollgate_background_calls_pending') as never);
        expect(pending(families(await scrapeText(ugw.url)))).toBe(1);
        // Its grant is in the counters and not yet in the ledger: held by a reservation, so not drift.
        const audit = await auditCounters(ugw.usage.ledger, ugw.gateway.policy, ugw.store, () => ugw.clock.now(), { beforeLedger: () => ugw.usage.writer.flush() });
        expect(audit).toMatchObject({ openReservations: 1, drifting: 0 });
        await until(() => ugw.gateway.background.size === 0);
        await ugw.usage.writer.flush();
        const rows = await ugw.usage.ledger.rows({});
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ providerResponseId: created.id, status: 200, inputTokens: INPUT_TOKENS, outputTokens: HAIKU_OUTPUT, usageSource: 'provider' });
        expect(rows[0].costUsd).toBeCloseTo((INPUT_TOKENS * 2.0 + HAIKU_OUTPUT * 8.0) / 1e6, 12);
        const m = families(await scrapeText(ugw.url));
        expect(pending(m)).toBe(0);
        expect(sum(m.get('tollgate_tokens_total'), { type: 'output' })).toBe(HAIKU_OUTPUT);
      },
    );
  });

  it('across a config reload: the old gateway stays open until its background call is settled, and records it', async () => {
    await withUsageGateway(
      (ledgerUrl) => config(upstream().url, ledgerUrl),
      async (ugw) => {
        const c = new OpenAI({ baseURL: `${ugw.url}/v1`, apiKey: 'tg-k3', maxRetries: 0 });
        const created = await c.responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 1_000, background: true });
        const old = ugw.gateway;
        ugw.reload();
        expect(ugw.gateway.background).toBe(old.background); // followed across the reload
        let closed = false;
        const retired = old.retire().then(() => (closed = true));
        await new Promise((r) => setTimeout(r, 200));
        expect(closed).toBe(false); // its provider pool is still needed for the polls
        await retired;
        await ugw.usage.writer.flush();
        expect(await ugw.usage.ledger.rows({})).toEqual([expect.objectContaining({ providerResponseId: created.id, outputTokens: HAIKU_OUTPUT, usageSource: 'provider' })]);
      },
    );
  });

  it('with a strict ledger, charged its whole grant at once: the row is committed before the answer', async () => {
    await withUsageGateway(
      (ledgerUrl) => config(upstream().url, ledgerUrl, 'strict'),
      async (ugw) => {
        const c = new OpenAI({ baseURL: `${ugw.url}/v1`, apiKey: 'tg-k2', maxRetries: 0 });
        const created = await c.responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 1_000, background: true });
        expect(ugw.gateway.background.size).toBe(0);
        const rows = await ugw.usage.ledger.rows({});
        expect(rows).toEqual([expect.objectContaining({ providerResponseId: created.id, outputTokens: 1_000, usageSource: 'estimated' })]);
      },
    );
  });
});

describe('background responses on shared Redis counters (database 13 of 127.0.0.1:6379)', () => {
  it('the grant one instance holds is seen by the other until the provider reports the end; then both see the real usage', async () => {
    const redisUrl = 'redis://127.0.0.1:6379/13';
    const redis = new Redis(redisUrl);
    await redis.flushdb(); // database 13 is this test's alone
    const policy = loadPolicy([writeConfig(config(upstream().url).replace('storage: {', `storage: {counters: "${redisUrl}", `))], process.env);
    const started = await Promise.all(
      [0, 1].map(async () => {
        const store = await openCounterStore(policy, { info: () => {}, warn: () => {} }, systemClock);
        const gateway = new Gateway(policy, store, systemClock);
        const calls: CallRecord[] = [];
        gateway.onCall((r) => calls.push(r));
        const app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes });
        return { store, gateway, calls, app, url: await listenLocal(app) };
      }),
    );
    try {
      const [a, b] = started;
      const on = (i: { url: string }): OpenAI => new OpenAI({ baseURL: `${i.url}/v1`, apiKey: 'tg-k1', maxRetries: 0 });
      const created = await on(a).responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 4_000, background: true });
      expect(a.gateway.background.size).toBe(1);
      // The other instance sees the grant held: its call gets only the room beside it.
      const beside = await on(b).responses.create({ model: 'gpt-4.1', input: 'Hi', max_output_tokens: 4_000 }).withResponse();
      expect(Number(beside.response.headers.get('x-tollgate-clamped-max-tokens'))).toBeLessThanOrEqual(LIMIT - 4_000);
      await until(() => a.calls.length > 0);
      expect(a.calls).toEqual([expect.objectContaining({ providerResponseId: created.id, usage: expect.objectContaining({ output: HAIKU_OUTPUT, source: 'provider' }) })]);
      expect(b.calls).toEqual([expect.objectContaining({ usage: expect.objectContaining({ output: HAIKU_OUTPUT, source: 'provider' }) })]);
      for (const i of started) expect(await dailyUsed('p1', i.store)).toBe(2 * (INPUT_TOKENS + HAIKU_OUTPUT));
      expect(await a.store.openReservations()).toBe(0);
    } finally {
      for (const i of started) {
        await closeApp(i.app);
        await i.gateway.background.finishAll();
        await i.gateway.close();
        await i.store.close();
      }
      await redis.quit();
    }
  });
});
