// A stream whose upstream fails before sending a single byte (its 200 came, then the connection dropped or
// the body ended empty) has delivered nothing: the client gets the gateway's 502, which the Anthropic SDK
// retries, not a 200 and an error event it cannot retry. Regression: `.stream()` threw an APIError with no
// status on the first dropped connection, though a second attempt would have answered.
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';
import { until } from './helpers/until.js';
import { startWireUpstream, type WireUpstream } from './helpers/wire-upstream.js';

const frame = (event: string, data: object): string => `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
const usage = { input_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 };
const WHOLE_STREAM = [
  frame('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null, stop_sequence: null, usage } }),
  frame('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  frame('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello there' } }),
  frame('content_block_stop', { index: 0 }),
  frame('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }),
  frame('message_stop', {}),
].join('');

// How the upstream answers the next requests, one way per request; a whole stream once they are used up.
type Failure = 'drop' | 'empty' | 'after-start' | 'stall';
let failures: Failure[] = [];
let upstreamCalls = 0;

function answer(res: ServerResponse): void {
  upstreamCalls++;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  const failure = failures.shift();
  if (failure === 'empty') return void res.end();
  if (failure === 'stall') return void res.flushHeaders();
  if (failure === 'after-start') return void res.write(WHOLE_STREAM.slice(0, WHOLE_STREAM.indexOf('event: content_block_start')), () => res.socket?.destroy());
  if (failure === 'drop') {
    res.flushHeaders();
    return void res.socket?.write('', () => res.socket?.destroy());
  }
  res.end(WHOLE_STREAM);
}

let upstream: WireUpstream;
let gw: TestGateway;
beforeAll(async () => {
  upstream = await startWireUpstream((_req, res) => answer(res));
  gw = await startTestGateway(`
providers:
  claude: {type: anthropic, base_url: "${upstream.url.replace(/\/v1$/, '')}", api_key: sk-up}
projects:
  p: {daily_limit: 100000}
routes:
  r:
    chat_models: [{model_id: claude-x, model: claude/claude-x}]
keys:
  - {id: k, key: tg-k, user: u, project: p}
`);
});
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});
beforeEach(() => {
  failures = [];
  upstreamCalls = 0;
});

const client = (maxRetries: number): Anthropic => new Anthropic({ baseURL: gw.url, apiKey: 'tg-k', maxRetries });
const params = { model: 'claude-x', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('a stream that fails before its first byte', () => {
  it.each<Failure>(['drop', 'empty'])('(%s) is a 502 the SDK retries, and the retry streams the answer', async (failure) => {
    failures = [failure];
    const before = gw.calls.length;
    const message = await client(2).messages.stream(params).finalMessage();
    expect(message.content).toEqual([{ type: 'text', text: 'Hello there' }]);
    expect(upstreamCalls).toBe(2);
    // The failed attempt is refunded and recorded with the status its client got.
    expect(gw.calls.slice(before).map((c) => [c.status, c.decision, c.usage.output])).toEqual([
      [502, 'failed', 0],
      [200, 'admitted', 3],
    ]);
    expect(await gw.store.openReservations()).toBe(0);
  });

  it("without retries, the SDK's error is the 502 in Anthropic's format, naming the request", async () => {
    failures = ['drop'];
    const err = await client(0).messages.stream(params).finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    const e = err as InstanceType<typeof Anthropic.InternalServerError>;
    expect(e.status).toBe(502);
    expect(e.requestID).toMatch(/^req_/);
    expect(e.error).toEqual({ type: 'error', error: { type: 'api_error', message: expect.stringContaining("'claude'") }, request_id: e.requestID });
  });

  it('one that fails after its first bytes still answers 200 and ends with an error event, as before', async () => {
    failures = ['after-start'];
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'tg-k' },
      body: JSON.stringify({ ...params, stream: true }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.startsWith('event: message_start\n')).toBe(true);
    expect(text).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"The upstream stream failed: [^"]+"\}\}\n\n$/);
    // The whole stream, when nothing fails, passes byte for byte.
    const whole = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'tg-k' },
      body: JSON.stringify({ ...params, stream: true }),
    });
    expect(await whole.text()).toBe(WHOLE_STREAM);
  });
  it('a client that leaves while the gateway waits for the first bytes is charged its input, as one that leaves later, recorded as 499', async () => {
    failures = ['stall'];
    const before = gw.calls.length;
    const leave = new AbortController();
    const call = fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'tg-k' },
      body: JSON.stringify({ ...params, stream: true }),
      signal: leave.signal,
    }).catch((e: unknown) => e);
    await until(() => upstreamCalls === 1);
    leave.abort();
    await call;
    await until(() => gw.calls.length > before);
    // The provider accepted the call and was reading its input: charged for it, nothing else.
    expect(gw.calls[before]).toMatchObject({ status: 499, decision: 'admitted', streamEnd: 'client_gone', usage: { output: 0, source: 'estimated' } });
    expect(gw.calls[before].usage.input).toBeGreaterThan(0);
    expect(await gw.store.openReservations()).toBe(0);
  });
});
