// Review (session 40, topic `upstream`): an upstream provider that misbehaves. A raw node:http upstream
// (wire-upstream.ts) behind an in-process gateway with a hard daily limit; each case checks what the client
// gets, the counter (equal to the settled usage, or refunded), that no reservation stays open, and the
// call's row (status, decision, usage source). The tests whose comments say "Was" found a bug, since fixed.
import { gzipSync } from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../src/proxy/gateway.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';
import { postgresPlace } from './helpers/ledgers.js';
import { useUsageGateway } from './helpers/usage-gateway.js';
import { responseObject, startWireUpstream, type WireUpstream } from './helpers/wire-upstream.js';

type Answer = (req: IncomingMessage, res: ServerResponse, raw: string) => void;
const TIMEOUT_MS = 2500;

/** What the upstream does with the next request; each test sets it. */
let answer: Answer = (_req, res) => res.end();

const { gw } = useBehindWireUpstream(
  (req, res, raw) => answer(req, res, raw),
  (url) => `
providers:
  gpt: {type: openai, base_url: "${url}", api_key: sk-up, timeout_ms: ${TIMEOUT_MS}}
  claude: {type: anthropic, base_url: "${url.slice(0, -'/v1'.length)}", api_key: sk-up, timeout_ms: ${TIMEOUT_MS}}
projects: {p: {daily_limit: 100000}}
routes:
  r:
    chat_models:
      - {model_id: gpt-4o, model: gpt/gpt-4o}
      - {model_id: claude, model: claude/claude-sonnet-4-20250514}
    embedding_models:
      - {model_id: emb, model: gpt/text-embedding-3-small}
keys: [{id: k, key: tg-k, project: p}]
`,
);

/** The project's daily counter, as the limits see it. */
async function used(): Promise<number> {
  const g = gw().gateway;
  const principal = g.keys.resolve('tg-k')!;
  const target = g.routes.resolve(principal, 'gpt-4o', 'chat')!;
  return (await g.engine.store.peek(g.engine.applicable.for(principal, target).map((l) => l.item)))[0].used;
}

interface Outcome {
  status: number;
  headers: Headers;
  text: string;
  /** How much the daily counter moved over the call. */
  charged: number;
  open: number;
  row: CallRecord;
  ms: number;
}

/** A call whose upstream reported negative usage: served, nothing left open, no negative count recorded, and charged. */
function expectChargedDespiteNegativeUsage(out: Outcome): void {
  expect(out.status).toBe(200);
  expect(out.open).toBe(0);
  expect(out.row.usage.input).toBeGreaterThanOrEqual(0);
  expect(out.row.usage.output).toBeGreaterThanOrEqual(0);
  expect(out.charged).toBeGreaterThan(0);
}

/** One call through the gateway with `fetch`: the answer, the counter's move, open reservations and the call's row. */
async function call(path: string, body: object): Promise<Outcome> {
  const before = await used();
  const rows = gw().calls.length;
  const t0 = Date.now();
  const res = await fetch(`${gw().url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-k', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const ms = Date.now() - t0;
  await until(() => gw().calls.length > rows);
  return { status: res.status, headers: res.headers, text, charged: (await used()) - before, open: await gw().store.openReservations(), row: gw().calls[rows]!, ms };
}

async function until(what: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

// --- the wire --------------------------------------------------------------------------------------------

const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Answer => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};
const sse = (text: string): Answer => (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(text);
};
/** Writes the whole stream, its last event included, and leaves the connection open. */
const sseLeftOpen = (text: string): Answer => (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(text);
};
const frame = (data: object | string, event?: string): string => `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

const ANSWER = 'Hello there friend'; // 3 tokens (o200k)
const USAGE = { prompt_tokens: 8, completion_tokens: 3, total_tokens: 11 };
const chatBody = (usage?: unknown): object => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1760000000,
  model: 'gpt-4o',
  choices: [{ index: 0, message: { role: 'assistant', content: ANSWER, refusal: null }, logprobs: null, finish_reason: 'stop' }],
  ...(usage === undefined ? {} : { usage }),
});
const chunkHead = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1760000000, model: 'gpt-4o' };
const delta = (d: object, finish: string | null = null): string => frame({ ...chunkHead, choices: [{ index: 0, delta: d, logprobs: null, finish_reason: finish }] });
const usageChunk = (usage: object): string => frame({ ...chunkHead, choices: [], usage });
const chatStream = (usage?: object): string => delta({ role: 'assistant', content: '' }) + delta({ content: ANSWER }) + delta({}, 'stop') + (usage ? usageChunk(usage) : '') + 'data: [DONE]\n\n';

const mframe = (type: string, o: object = {}): string => frame({ type, ...o }, type);
const message = (usage?: object): object => ({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-20250514', content: [{ type: 'text', text: ANSWER }], stop_reason: 'end_turn', stop_sequence: null, ...(usage ? { usage } : {}) });
const messageStart = (usage: object): string =>
  mframe('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-20250514', content: [], stop_reason: null, stop_sequence: null, usage } });
const textBlock =
  mframe('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
  mframe('content_block_delta', { index: 0, delta: { type: 'text_delta', text: ANSWER } }) +
  mframe('content_block_stop', { index: 0 });
const messageDelta = (usage: object): string => mframe('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage });
const messagesStream = (startUsage: object, deltaUsage?: object): string => messageStart(startUsage) + textBlock + (deltaUsage ? messageDelta(deltaUsage) : '') + mframe('message_stop');

const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 50 };
const chatStreamed = { ...chat, stream: true, stream_options: { include_usage: true } };
const messages = { model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] };
const messagesStreamed = { ...messages, stream: true };

// --- what works ------------------------------------------------------------------------------------------

describe('a success that is not an answer, or carries no usage', () => {
  it('a 200 whose body is not JSON is a 502 in OpenAI format, refunded, recorded failed', async () => {
    answer = json('<html>Welcome to nginx</html>', 200, { 'content-type': 'text/html' });
    const out = await call('/v1/chat/completions', chat);
    expect(out.status).toBe(502);
    expect(JSON.parse(out.text).error).toMatchObject({ code: 'upstream_error', type: 'upstream_error' });
    expect(out.charged).toBe(0);
    expect(out.open).toBe(0);
    expect(out.row).toMatchObject({ status: 502, decision: 'failed', usage: { input: 0, output: 0 } });
  });

  it.each([
    ['no usage', undefined],
    ['usage counts as strings', { prompt_tokens: '8', completion_tokens: '3', total_tokens: '11' }],
  ])('chat answered with %s is counted by the gateway (estimated) and charged that', async (_name, usage) => {
    answer = json(chatBody(usage));
    const out = await call('/v1/chat/completions', chat);
    expect(out.status).toBe(200);
    expect(out.row.usage).toMatchObject({ input: 8, output: 3, source: 'estimated' });
    expect(out.charged).toBe(11);
    expect(out.open).toBe(0);
  });

  it('a chat stream without its usage chunk is counted from its text (estimated)', async () => {
    answer = sse(chatStream());
    const out = await call('/v1/chat/completions', chatStreamed);
    expect(out.status).toBe(200);
    expect(out.text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(out.row).toMatchObject({ status: 200, streamEnd: 'complete', usage: { input: 8, output: 3, source: 'estimated' } });
    expect(out.charged).toBe(11);
    expect(out.open).toBe(0);
  });

  it('a usage object on the first chunk (not asked for by the client) is read and removed from what the client sees', async () => {
    answer = sse(frame({ ...chunkHead, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], usage: USAGE }) + delta({ content: ANSWER }) + delta({}, 'stop') + 'data: [DONE]\n\n');
    const out = await call('/v1/chat/completions', { ...chat, stream: true });
    expect(out.text).not.toContain('prompt_tokens');
    expect(out.row.usage).toMatchObject({ input: 8, output: 3, source: 'provider' });
    expect(out.charged).toBe(11);
  });

  it('malformed SSE lines between the chunks pass as they came; the usage chunk after them is read', async () => {
    answer = sse(delta({ role: 'assistant', content: '' }) + delta({ content: ANSWER }) + 'data: {not json\n\n' + 'a line without a colon\n\n' + ': comment\n\n' + delta({}, 'stop') + usageChunk(USAGE) + 'data: [DONE]\n\n');
    const out = await call('/v1/chat/completions', chatStreamed);
    expect(out.status).toBe(200);
    expect(out.text).toContain('data: {not json\n\n');
    expect(out.row).toMatchObject({ streamEnd: 'complete', usage: { input: 8, output: 3, source: 'provider' } });
    expect(out.charged).toBe(11);
  });

  it('a Claude stream with no message_delta is counted from its text, not from message_start\'s output_tokens', async () => {
    answer = sse(messagesStream({ input_tokens: 8, output_tokens: 40 }));
    const out = await call('/v1/messages', messagesStreamed);
    expect(out.status).toBe(200);
    expect(out.row).toMatchObject({ status: 200, streamEnd: 'complete' });
    expect(out.row.usage.source).toBe('estimated');
    expect(out.row.usage.output).toBeLessThan(40);
    expect(out.charged).toBe(out.row.usage.input + out.row.usage.output);
    expect(out.open).toBe(0);
  });

  it('a non-streamed Claude message without usage is counted (estimated)', async () => {
    answer = json(message());
    const out = await call('/v1/messages', messages);
    expect(out.status).toBe(200);
    expect(out.row.usage.source).toBe('estimated');
    expect(out.charged).toBe(out.row.usage.input + out.row.usage.output);
    expect(out.charged).toBeGreaterThan(0);
  });
});

describe('upstream error statuses', () => {
  const providerHeaders = { 'retry-after': '7', 'retry-after-ms': '7000', 'x-should-retry': 'true', 'x-ratelimit-limit-tokens': '30000', 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '7s' };

  it('an OpenAI 429 on a stream request: the provider\'s status, body, retry advice and rate-limit headers (not the gateway\'s); refunded exactly', async () => {
    answer = json({ error: { message: 'Rate limit reached for gpt-4o', type: 'tokens', param: null, code: 'rate_limit_exceeded' } }, 429, providerHeaders);
    const out = await call('/v1/chat/completions', chatStreamed);
    expect(out.status).toBe(429);
    expect(JSON.parse(out.text).error.code).toBe('rate_limit_exceeded');
    expect(out.headers.get('retry-after')).toBe('7');
    expect(out.headers.get('retry-after-ms')).toBe('7000');
    expect(out.headers.get('x-should-retry')).toBe('true');
    expect(out.headers.get('x-ratelimit-limit-tokens')).toBe('30000'); // the provider's, not the gateway's 100000
    expect(out.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    expect(out.headers.get('x-tollgate-request-id')).toBeTruthy();
    expect(out.charged).toBe(0);
    expect(out.open).toBe(0);
    expect(out.row).toMatchObject({ status: 429, decision: 'failed', usage: { input: 0, output: 0 } });
  });

  it('an OpenAI 500: passed through with its retry advice, refunded', async () => {
    answer = json({ error: { message: 'The server had an error', type: 'server_error', param: null, code: null } }, 500, providerHeaders);
    const out = await call('/v1/chat/completions', chat);
    expect(out.status).toBe(500);
    expect(out.headers.get('retry-after')).toBe('7');
    expect(out.headers.get('x-should-retry')).toBe('true');
    expect(out.charged).toBe(0);
    expect(out.open).toBe(0);
    expect(out.row).toMatchObject({ status: 500, decision: 'failed' });
  });

  it('Anthropic 529 overloaded on /v1/messages (stream asked): Anthropic\'s body naming the gateway\'s request id, retry advice, refunded', async () => {
    answer = json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_upstream' }, 529, { 'retry-after': '3', 'x-should-retry': 'true', 'request-id': 'req_upstream' });
    const out = await call('/v1/messages', messagesStreamed);
    expect(out.status).toBe(529);
    const body = JSON.parse(out.text);
    expect(body).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(body.request_id).toBe(out.headers.get('request-id'));
    expect(out.headers.get('x-upstream-request-id')).toBe('req_upstream');
    expect(out.headers.get('retry-after')).toBe('3');
    expect(out.headers.get('x-should-retry')).toBe('true');
    expect(out.charged).toBe(0);
    expect(out.open).toBe(0);
    expect(out.row).toMatchObject({ status: 529, decision: 'failed' });
  });

  it('Anthropic 529 behind the OpenAI API: OpenAI\'s error format, status kept (the OpenAI SDK retries it)', async () => {
    answer = json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 529, { 'retry-after': '3' });
    const out = await call('/v1/chat/completions', { ...chat, model: 'claude' });
    expect(out.status).toBe(529);
    expect(JSON.parse(out.text).error).toMatchObject({ message: 'Overloaded', type: 'overloaded_error' });
    expect(out.headers.get('retry-after')).toBe('3');
    expect(out.charged).toBe(0);
    expect(out.open).toBe(0);
  });
});

describe('the connection misbehaves', () => {
  it('a non-streamed body cut by a closed socket is a 502, refunded (SPEC §2.4: a failed upstream call refunds everything)', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '400' });
      res.write(JSON.stringify(chatBody(USAGE)).slice(0, 60));
      setTimeout(() => res.destroy(), 50);
    };
    const out = await call('/v1/chat/completions', chat);
    expect(out.status).toBe(502);
    expect(out.charged).toBe(0);
    expect(out.open).toBe(0);
    expect(out.row).toMatchObject({ status: 502, decision: 'failed' });
  });

  it('a stream cut by a closed socket ends with an error event; charged the output produced (estimated), recorded failed', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(delta({ role: 'assistant', content: '' }) + delta({ content: ANSWER }));
      setTimeout(() => res.destroy(), 50);
    };
    const out = await call('/v1/chat/completions', chatStreamed);
    expect(out.status).toBe(200);
    expect(out.text).toMatch(/data: \{"error":\{"message":"The upstream stream failed[^\n]*\n\n$/);
    expect(out.row).toMatchObject({ status: 502, decision: 'failed', streamEnd: 'upstream_failed', usage: { output: 3, source: 'estimated' } });
    expect(out.charged).toBe(out.row.usage.input + 3);
    expect(out.open).toBe(0);
  });

  // Timing: waits for timeout_ms (2.5 s; undici's tick may add up to 1 s).
  it('a non-streamed body that stalls past timeout_ms is a 504 charged its reservation (README "Settle")', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":"chatcmpl-1",');
    };
    const out = await call('/v1/chat/completions', chat);
    expect(out.status).toBe(504);
    expect(JSON.parse(out.text).error.code).toBe('upstream_timeout');
    expect(out.row).toMatchObject({ status: 504, decision: 'failed', usage: { input: 8, output: 50 } });
    expect(out.charged).toBe(58);
    expect(out.open).toBe(0);
  });
});

// --- bugs ------------------------------------------------------------------------------------------------

describe('usage figures that are no token counts', () => {
  // Was (openai-usage.ts openAIUsage checked only `typeof input !== 'number'`; now tokenCount in usage.ts).
  // A negative count was settled as it is: the counter goes DOWN, giving back room other calls used, and the
  // row carries negative tokens. Seen: prompt_tokens -5000 / completion_tokens -300 on a 50-token call moved
  // the project's daily counter by -11 (the earlier call's 11 tokens erased) and recorded input -5000,
  // output -300, source provider. OpenAI documents these fields as integers (CompletionUsage), and a count
  // below zero is no usage at all: expected as for a usage that is absent or has strings (counted by the
  // gateway, `estimated`), so the counter never moves down for a served call (SPEC §2: the admitted tokens
  // never exceed the limit). Same on /v1/embeddings (-50), /v1/responses (-98) and streams (-22).
  it('negative OpenAI usage never gives room back (chat, chat stream, embeddings, responses)', async () => {
    const negative = { prompt_tokens: -5000, completion_tokens: -300, total_tokens: -5300 };
    const cases: Array<[string, object, Answer]> = [
      ['/v1/chat/completions', chat, json(chatBody(negative))],
      ['/v1/chat/completions', chatStreamed, sse(chatStream(negative))],
      ['/v1/embeddings', { model: 'emb', input: 'hello' }, json({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model: 'text-embedding-3-small', usage: { prompt_tokens: -50, total_tokens: -50 } })],
      [
        '/v1/responses',
        { model: 'gpt-4o', input: 'hello', max_output_tokens: 50 },
        (req, res, raw) => json(responseObject('resp_1', JSON.parse(raw), 'completed', { input_tokens: -100, output_tokens: 2, total_tokens: -98, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } }))(req, res, raw),
      ],
    ];
    for (const [path, body, upstream] of cases) {
      answer = upstream;
      const out = await call(path, body);
      expectChargedDespiteNegativeUsage(out);
    }
  });

  // Was (anthropic-usage.ts took any finite number; now tokenCount). The same on the Anthropic
  // wire: a message_delta with output_tokens -100 moved the counter by -48 on a stream whose own input was
  // 20, and a non-streamed message with input_tokens -8 was recorded input -8. Anthropic's usage counts are
  // integers >= 0 (Messages API `Usage`); expected: counted by the gateway instead, as without usage.
  it('negative Anthropic usage never gives room back (/v1/messages, streamed and not)', async () => {
    const cases: Array<[object, Answer]> = [
      [messagesStreamed, sse(messagesStream({ input_tokens: 8, output_tokens: 1 }, { output_tokens: -100 }))],
      [messages, json(message({ input_tokens: -8, output_tokens: 3 }))],
    ];
    for (const [body, upstream] of cases) {
      answer = upstream;
      const out = await call('/v1/messages', body);
      expectChargedDespiteNegativeUsage(out);
    }
  });

  // Works as documented ("an upstream that ignores max_tokens there is settled at what it reports"), pinned
  // here: a reported count far above the grant is charged whole, stream or not. 1e15 tokens on a 50-token
  // call locks the project for the rest of the day ("2000000000000025 of 100000 tokens used").
  it('a reported usage above the reserved max_tokens is settled as reported (documented), streamed too', async () => {
    answer = sse(chatStream({ prompt_tokens: 8, completion_tokens: 5000, total_tokens: 5008 }));
    const out = await call('/v1/chat/completions', chatStreamed);
    expect(out.row.reserved.output).toBe(50);
    expect(out.row.usage).toMatchObject({ output: 5000, source: 'provider' });
    expect(out.charged).toBe(5008);
    expect(out.open).toBe(0);
  });
});

describe('a stream after its last event', () => {
  // Was (stream-relay.ts relayStream read on until the upstream body ended; only an error event ended it
  // early; now the adapter's `closed` does too, see stream-error-event-left-open.test.ts). An upstream (or a proxy in
  // between) that sends `data: [DONE]` / `message_stop` and keeps the connection open holds the client's
  // stream and the call's reservation until timeout_ms: ~3.0 s here with timeout_ms 2500, 600 s with the
  // default. The OpenAI SDK (core/streaming.js) reads on after [DONE] until the body ends, so
  // `for await` over the stream does not finish either. Expected: the gateway ends the client's stream
  // and closes the upstream request once the stream's last event has gone out (as it does for an error
  // event), in milliseconds.
  it('a chat stream whose upstream leaves the connection open after [DONE] ends for the SDK at once', async () => {
    answer = sseLeftOpen(chatStream(USAGE));
    const client = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
    const t0 = Date.now();
    let text = '';
    for await (const chunk of await client.chat.completions.create({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }], stream: true })) text += chunk.choices[0]?.delta.content ?? '';
    const ms = Date.now() - t0;
    expect(text).toBe(ANSWER);
    expect(ms).toBeLessThan(1000);
  });

  // Was (same cause, Anthropic wire): message_stop, then the connection left open: ~3.0 s for the client.
  it('a Claude stream whose upstream leaves the connection open after message_stop ends at once', async () => {
    answer = sseLeftOpen(messagesStream({ input_tokens: 8, output_tokens: 1 }, { output_tokens: 3 }));
    const out = await call('/v1/messages', messagesStreamed);
    expect(out.row).toMatchObject({ status: 200, streamEnd: 'complete' });
    expect(out.ms).toBeLessThan(1000);
  });

  // Was (stream-relay.ts / chat-stream.ts OpenAIChatStream.step: after [DONE] the adapter went on reading
  // chunks, and a later usage chunk replaces the settled usage). Chunks after `data: [DONE]` are relayed to
  // the client, which ignores them (the OpenAI SDK skips everything after [DONE]), but their usage is what is
  // charged: here 40 output tokens for an answer the client saw as 3 (counter +48, not +11). Expected: the
  // stream ends at [DONE]; what comes after is neither relayed nor settled.
  it('chunks after [DONE] are neither relayed nor charged', async () => {
    answer = sse(chatStream(USAGE) + delta({ content: ' and many more words after the end of the stream' }) + usageChunk({ prompt_tokens: 8, completion_tokens: 40, total_tokens: 48 }) + 'data: [DONE]\n\n');
    const out = await call('/v1/chat/completions', chatStreamed);
    expect(out.text.indexOf('data: [DONE]')).toBe(out.text.length - 'data: [DONE]\n\n'.length);
    expect(out.row.usage).toMatchObject({ input: 8, output: 3 });
    expect(out.charged).toBe(11);
  });
});

describe('bodies that are not what their headers say', () => {
  // Was (http-provider.ts now sends `accept-encoding: identity`: no Accept-Encoding was sent and Content-Encoding was neither asked
  // off nor decoded). RFC 9110 §12.5.3: a request without Accept-Encoding lets the server use any content
  // coding, so an upstream (or a CDN/proxy in front of an OpenAI-compatible server) may gzip. The gateway
  // drops the Content-Encoding header but relays the compressed bytes: a stream reaches the client as a 200
  // `text/event-stream` of gzip bytes followed by the gateway's error event, recorded 502 failed and
  // refunded (charged 0) though the provider produced and billed the answer (its usage, 8+3, is inside the
  // gzip); a non-streamed answer is a 502 "body that is not JSON, content-type application/json".
  // Expected: `accept-encoding: identity` upstream, or the body decoded; either way the client gets the
  // answer and the call is settled with the provider's usage. The upstream here compresses only when the
  // request allows it.
  it('an upstream that compresses when the request allows it: the answer arrives and is settled', async () => {
    const compressed = (contentType: string, text: string): Answer => (req, res) => {
      const accepted = req.headers['accept-encoding'];
      const gzip = accepted === undefined || /\bgzip\b|\*/.test(accepted);
      res.writeHead(200, { 'content-type': contentType, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
      res.end(gzip ? gzipSync(text) : text);
    };
    answer = compressed('text/event-stream', chatStream(USAGE));
    const streamed = await call('/v1/chat/completions', chatStreamed);
    expect(streamed.text.startsWith('data: ')).toBe(true);
    expect(streamed.row).toMatchObject({ status: 200, streamEnd: 'complete', usage: { input: 8, output: 3, source: 'provider' } });
    expect(streamed.charged).toBe(11);

    answer = compressed('application/json', JSON.stringify(chatBody(USAGE)));
    const whole = await call('/v1/chat/completions', chat);
    expect(whole.status).toBe(200);
    expect(whole.row.usage).toMatchObject({ input: 8, output: 3, source: 'provider' });
  });

  // Was (pipeline.ts, non-streamed branch: the check looked at the first byte only; now looksLikeJsonObject, both ends).
  // A 200 whose JSON body ends early (a Content-Length shorter than the body, or a proxy that ends the body
  // cleanly mid-way) is relayed to the client as a 200 with broken JSON (the SDK fails to parse it and does
  // not retry), and charged as served: its raw JSON text, syntax included, counted as output: 58 tokens on a
  // call reserved and capped at 50 (counter +66). README "Errors": a successful status whose body is not
  // JSON is a 502 `upstream_error`, nothing charged. Expected here too.
  it('a 200 whose JSON body is cut short is a 502, refunded', async () => {
    answer = (_req, res) => {
      const body = JSON.stringify(chatBody(USAGE));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length - 30) });
      res.end(body);
    };
    const out = await call('/v1/chat/completions', chat);
    expect(out.status).toBe(502);
    expect(JSON.parse(out.text).error.code).toBe('upstream_error');
    expect(out.charged).toBe(0);
    expect(out.row).toMatchObject({ status: 502, decision: 'failed' });
  });
});

describe('usage the PostgreSQL ledger cannot hold', () => {
  let upstream: WireUpstream | undefined;
  let next: Answer = (_req, res) => res.end();
  beforeAll(async () => {
    upstream = await startWireUpstream((req, res, raw) => next(req, res, raw));
  });
  afterAll(async () => {
    await upstream?.close();
  });
  const ledgerGw = useUsageGateway(
    (ledger) => `
storage: {counters: memory, ledger: "${ledger}"}
providers:
  gpt: {type: openai, base_url: "${upstream!.url}", api_key: sk-up}
projects: {p: {daily_limit: 1000000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: gpt/gpt-4o}]}}
keys: [{id: k, key: tg-k, project: p}]
`,
    { place: postgresPlace },
  );

  // Was (openai-usage.ts openAIUsage took any number; postgres-ledger.ts columns are bigint). A served call
  // whose provider reported a fractional count (10.5 / 3.25) or one past bigint (1e20) is charged on the
  // counter, but PostgreSQL refuses its row (SQLSTATE 22), which the writer sets aside: the call is missing
  // from the ledger, reports and `tollgate audit` (writer stats: written 0, dropped 1 for the fraction; the
  // 1e20 row dropped as well). SQLite keeps both rows as they are (10.5 tokens, $250,000,000,000,000 for the
  // 1e20 one). Expected: a usage that is no non-negative safe integer is not taken (counted by the gateway),
  // so every served call has its row.
  it('every served call has its ledger row, whatever numbers its usage held', async () => {
    const g = ledgerGw();
    for (const usage of [
      { prompt_tokens: 10.5, completion_tokens: 3.25, total_tokens: 13.75 },
      { prompt_tokens: 1e20, completion_tokens: 1, total_tokens: 1e20 },
    ]) {
      next = json(chatBody(usage));
      const res = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tg-k' }, body: JSON.stringify(chat) });
      expect(res.status).toBe(200);
      await res.text();
    }
    await g.usage.writer.flush();
    expect(g.usage.writer.stats().dropped).toBe(0);
    expect(await g.usage.ledger.rows({ sinceMs: 0, untilMs: Date.UTC(2030, 0) })).toHaveLength(2);
  });
});
