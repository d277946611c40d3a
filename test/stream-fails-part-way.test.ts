// Streams the provider fails part-way, on every streamed API the gateway serves (chat, legacy completions,
// Responses, Anthropic messages, and OpenAI chat on a Claude model), through the official SDKs: the
// upstream's socket destroyed after N events, its own error event after N events (OpenAI's error chunk,
// Anthropic's `overloaded_error`, the Responses `error` event, a `response.failed` with its usage), and a
// stream that stalls past the provider's timeout_ms. Regression tests from a QA pass: each was charged what
// the provider produced (right) but recorded `admitted` with its 502 (a timed-out stream's 504 too), so
// `tollgate usage` and the dashboard counted these 20 calls as served requests and 0 failed, and /metrics
// said decision="admitted". A call the client got an error for is `failed`, whatever it was charged; its
// request is given back (as for every failed call), so the counters still equal what the ledger rebuilds:
// drift 0, token buckets included. And an error event the SDK read before the provider closed the
// connection (the SDK stops reading and leaves at once) was recorded as a client that left: 499, `client_gone`.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../src/ledger/audit.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { encodeSseEvent } from '../src/providers/sse/index.js';
import { LEDGER_KINDS, sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';
import { sampleRow, T0 } from './helpers/sample-row.js';
import { until } from './helpers/until.js';
import { startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';
import { startWireUpstream, type WireUpstream } from './helpers/wire-upstream.js';

const ADMIN = 'qa-admin';
let mock: MockUpstream;
let stalling: WireUpstream;
let place: LedgerPlace;
let gw: UsageTestGateway;

/**
 * The mock's stream for the same request, cut after `keep_frames` frames (the `keep_frames` body field):
 * then silence on an open connection (a stall), or with `then_failed`, a Responses `response.failed`
 * carrying the provider's usage, as OpenAI ends a response that failed.
 */
async function startStallingUpstream(mockUrl: string): Promise<WireUpstream> {
  return startWireUpstream((req, res, raw) => {
    const body = JSON.parse(raw) as { keep_frames: number; then_failed?: boolean; end_after_ms?: number };
    void fetch(`${mockUrl}${req.url}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-up', 'x-api-key': 'sk-up' }, body: raw })
      .then((r) => r.text())
      .then((text) => {
        const frames = text.split('\n\n').filter((f) => f.trim() !== '').map((f) => `${f}\n\n`);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(frames.slice(0, body.keep_frames).join(''));
        if (body.end_after_ms !== undefined) setTimeout(() => res.end(), body.end_after_ms);
        if (!body.then_failed) return;
        const response = { id: 'resp_failed', object: 'response', status: 'failed', error: { code: 'server_error', message: 'The model failed.' }, output: [], usage: { input_tokens: 8, input_tokens_details: { cached_tokens: 0 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 11 } };
        res.end(encodeSseEvent({ event: 'response.failed', data: JSON.stringify({ type: 'response.failed', sequence_number: body.keep_frames, response }) }));
      });
  });
}

beforeAll(async () => {
  mock = createMockUpstream({ latencyMs: 0, outputTokens: 40, apiKey: 'sk-up' });
  const mockUrl = await mock.listen(0, '127.0.0.1');
  stalling = await startStallingUpstream(mockUrl);
  place = sqlitePlace();
  gw = await startUsageGateway(`
server: {admin_key: ${ADMIN}}
storage: {ledger: "${place.url}"}
providers:
  gpt: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-up}
  claude: {type: anthropic, base_url: "${mockUrl}", api_key: sk-up}
  gpt-stalls: {type: openai, base_url: "${stalling.url}", api_key: sk-up, timeout_ms: 300}
  claude-stalls: {type: anthropic, base_url: "${stalling.url.slice(0, -'/v1'.length)}", api_key: sk-up, timeout_ms: 300}
projects: {p: {daily_limit: 1000000}}
users: {t: {daily_limit: 500000, rate_limit: 1000}}
routes:
  r:
    chat_models:
      - {model_id: gpt, model: gpt/gpt-4o}
      - {model_id: claude, model: claude/claude-sonnet-4-20250514}
      - {model_id: gpt-stalls, model: gpt-stalls/gpt-4o}
      - {model_id: claude-stalls, model: claude-stalls/claude-sonnet-4-20250514}
    token_limiting:
      input: {algorithm: token_bucket, window_size: 10 minutes, max_token: 100000}
      output: {algorithm: token_bucket, window_size: 10 minutes, max_token: 100000}
keys: [{id: k, key: tg-k, project: p, user: u, tier: t}]
`);
}, 20_000);
afterAll(async () => {
  await gw?.close();
  await mock?.close();
  await stalling?.close();
  await place?.drop();
});

const openai = (): OpenAI => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const anthropic = (): Anthropic => new Anthropic({ baseURL: gw.url, apiKey: 'tg-k', maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'Hello' }];

/** Reads a stream of the OpenAI SDK to its end (or its error). */
async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of stream) void _chunk;
}

type Api = 'chat' | 'completions' | 'responses' | 'messages' | 'chat on Claude';
/** One streamed call through the client's SDK; `extra` steers the upstream. Claude is called by the same names, `claude` for `gpt`. */
const CALLS: Record<Api, (model: string, extra: object) => Promise<unknown>> = {
  chat: async (model, extra) => drain(await openai().chat.completions.create({ model, messages, stream: true, max_tokens: 100, stream_options: { include_usage: true }, ...extra })),
  completions: async (model, extra) => drain(await openai().completions.create({ model, prompt: 'Hi', stream: true, max_tokens: 100, ...extra })),
  responses: (model, extra) => openai().responses.stream({ model, input: 'Hi', max_output_tokens: 100, ...extra }).finalResponse(),
  messages: (model, extra) => anthropic().messages.stream({ model: model.replace('gpt', 'claude'), max_tokens: 100, messages, ...extra }).finalMessage(),
  'chat on Claude': async (model, extra) => drain(await openai().chat.completions.create({ model: model.replace('gpt', 'claude'), messages, stream: true, max_tokens: 100, ...extra })),
};

/** What the call raised: each SDK's APIError, or for the Responses API the `error` event itself (as its SDK emits it). */
async function raised(api: Api, call: Promise<unknown>): Promise<{ message: string }> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e as { message: string },
  );
  expect(err, 'a failure reached the client as a success').toBeDefined();
  if (api === 'responses') expect(err).toMatchObject({ type: 'error' });
  else expect(err).toBeInstanceOf(api === 'messages' ? Anthropic.APIError : OpenAI.APIError);
  return err!;
}

/** How many rows the ledger holds, every finished call's written. */
async function rowCount(): Promise<number> {
  await gw.usage.writer.flush();
  return (await gw.usage.ledger.rows({})).length;
}

/** The ledger's row of the call the gateway finishes next. */
async function lastRow(before: number): Promise<Awaited<ReturnType<UsageTestGateway['usage']['ledger']['rows']>>[number]> {
  let rows: Awaited<ReturnType<UsageTestGateway['usage']['ledger']['rows']>> = [];
  await until(async () => {
    await gw.usage.writer.flush();
    rows = await gw.usage.ledger.rows({});
    return rows.length > before;
  });
  expect(rows).toHaveLength(before + 1);
  return rows[before];
}

const FAILURES: Array<{ api: Api; how: string; model: string; extra: object; error: RegExp; output: number }> = [];
// Output tokens the provider produced before each failure (the role chunk and the Responses opening events carry none).
const PER_API: Array<[Api, { socket: number; event: number; stall: number; stallFrames: number }]> = [
  ['chat', { socket: 5, event: 5, stall: 4, stallFrames: 5 }],
  ['completions', { socket: 6, event: 6, stall: 5, stallFrames: 5 }],
  ['responses', { socket: 2, event: 2, stall: 4, stallFrames: 8 }],
  ['messages', { socket: 5, event: 5, stall: 5, stallFrames: 6 }],
  ['chat on Claude', { socket: 5, event: 5, stall: 5, stallFrames: 6 }],
];
for (const [api, n] of PER_API) {
  FAILURES.push(
    { api, how: 'its socket destroyed after 6 events', model: 'gpt', extra: { mock_abort_after_chunks: 6 }, error: /upstream stream failed/, output: n.socket },
    { api, how: 'its error event after 6 events', model: 'gpt', extra: { mock_error_event_after_chunks: 6 }, error: /Overloaded|server had an error/, output: n.event },
    { api, how: `a stall after ${n.stallFrames} events, past timeout_ms`, model: 'gpt-stalls', extra: { keep_frames: n.stallFrames }, error: /upstream stream failed: Body Timeout/, output: n.stall },
  );
}

describe('a stream the provider fails part-way', () => {
  it.each(FAILURES)('$api, $how: an error the SDK raises; charged what was produced, recorded failed', async ({ api, model, extra, error, output }) => {
    const before = await rowCount();
    expect((await raised(api, CALLS[api](model, extra))).message).toMatch(error);
    const row = await lastRow(before);
    expect(row).toMatchObject({ status: 502, decision: 'failed', streamEnd: 'upstream_failed', outputTokens: output, usageSource: 'estimated' });
    expect(row.inputTokens).toBeGreaterThan(0);
    expect(await gw.store.openReservations()).toBe(0);
  });

  it.each(['chat', 'messages', 'chat on Claude'] as const)('%s, an error event the SDK reads before the provider closes the connection: recorded failed, not as a client that left', async (api) => {
    const before = await rowCount();
    const err = await raised(api, CALLS[api]('gpt-stalls', { mock_error_event_after_chunks: 6, keep_frames: 7, end_after_ms: 2000 }));
    expect(err.message).toMatch(/Overloaded|server had an error/);
    expect(await lastRow(before)).toMatchObject({ status: 502, decision: 'failed', streamEnd: 'upstream_failed', outputTokens: 5 });
  });

  it("Responses, a response.failed with the provider's usage: passed on as the API ends it, charged that usage, recorded failed", async () => {
    const before = await rowCount();
    const response = await CALLS.responses('gpt-stalls', { keep_frames: 6, then_failed: true });
    expect(response).toMatchObject({ status: 'failed', error: { message: 'The model failed.' } });
    expect(await lastRow(before)).toMatchObject({ status: 502, decision: 'failed', inputTokens: 8, outputTokens: 3, usageSource: 'provider' });
    expect(await gw.store.openReservations()).toBe(0);
  });

  it('a stream whose head came but no event before timeout_ms: a 504 charged its input, recorded failed', async () => {
    const before = await rowCount();
    await expect(CALLS.chat('gpt-stalls', { keep_frames: 0 })).rejects.toMatchObject({ status: 504 });
    const row = await lastRow(before);
    expect(row).toMatchObject({ status: 504, decision: 'failed', outputTokens: 0, usageSource: 'estimated' });
    expect(row.inputTokens).toBeGreaterThan(0);
  });

  it('the report, /metrics and the counters agree: 20 failed calls, none served, their tokens counted once', async () => {
    await gw.usage.writer.flush();
    const [total] = await gw.usage.ledger.summarize({ groupBy: [] });
    expect(total).toMatchObject({ calls: FAILURES.length + 5, served: 0, failed: FAILURES.length + 5 });
    const metrics = families(await scrapeText(gw.url));
    const requests = metrics.get('tollgate_requests_total');
    expect(sum(requests, { decision: 'failed' })).toBe(FAILURES.length + 5);
    expect(sum(requests, { decision: 'admitted' })).toBe(0);
    expect(sum(metrics.get('tollgate_tokens_total'))).toBe(total.inputTokens + total.outputTokens);

    // Counters equal the ledger (token buckets replayed from its events, requests from its served rows).
    const res = await fetch(`${gw.url}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const audit = (await res.json()) as AuditReport;
    expect(audit.openReservations).toBe(0);
    expect(audit.lines.filter((l) => l.drift !== 0)).toEqual([]);
    // The audit lets a request counter run above the ledger (token-free requests have no row): checked here.
    // A failed call's request is given back, as the rebuild (which counts served rows) would have it.
    expect(audit.lines.find((l) => l.limit === 'user:u:rate')).toMatchObject({ counter: 0, ledger: 0 });
    expect(audit.lines.find((l) => l.algorithm === 'token_bucket' && l.ledger > 0)).toBeDefined();
  });
});

describe.each(LEDGER_KINDS)('the token-bucket replay on $kind', ({ place: makePlace }) => {
  it("reads a failed call's tokens, not its request, and no blocked call", async () => {
    const where = await makePlace();
    const ledger = await openLedger(where.url);
    try {
      await ledger.append([
        sampleRow({ decision: 'failed', status: 502, inputTokens: 8, outputTokens: 5 }),
        sampleRow({ decision: 'blocked', status: 429, inputTokens: 0, outputTokens: 0 }),
        sampleRow({ decision: 'admitted', status: 200, inputTokens: 9, outputTokens: 7 }),
      ]);
      const events = await ledger.events(T0 - 1);
      expect(events.map((e) => [e.served, e.inputTokens, e.outputTokens]).sort()).toEqual([
        [false, 8, 5],
        [true, 9, 7],
      ]);
    } finally {
      await ledger.close();
      await where.drop();
    }
  });
});
