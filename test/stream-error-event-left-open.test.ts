// An upstream that sends its error event mid-stream and then neither sends more nor closes the connection
// (real providers close after one; a proxy in between or an OpenAI-compatible server may not). Regression:
// the gateway kept reading until the provider's timeout_ms, holding the client's stream (and the call's
// reservation) open that long after the error it had already relayed: 3.0 s here, timeout_ms. Now the
// client's stream ends, and the upstream request is closed, as soon as the error event has gone out; the
// call is recorded failed and charged what was produced. Output that merely mentions an error (a text
// delta, a tool call's arguments) is not an error event and ends nothing.
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { countTextTokens } from '../src/tokens/index.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';
import { until } from './helpers/until.js';

const TIMEOUT_MS = 3000;
const frame = (data: object, event?: string): string => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

const chatHead = { id: 'chatcmpl-e', object: 'chat.completion.chunk', created: 1760000000, model: 'gpt-4o-2024-08-06' };
const chatDelta = (delta: object, finish: string | null = null): string => frame({ ...chatHead, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
const ANSWER = 'Hello there, the weather';

const chat = {
  opening: chatDelta({ role: 'assistant', content: '' }) + chatDelta({ content: 'Hello there,' }) + chatDelta({ content: ' the weather' }),
  error: frame({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } }),
  // Content and tool arguments that mention errors, as JSON too: output, not an error event.
  mentions: chatDelta({ content: 'error: {"error": {"message": "x"}}' }) + chatDelta({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'report', arguments: '{"error":{"type":"error"}}' } }] }) + chatDelta({}, 'tool_calls') + 'data: [DONE]\n\n',
};

const message = { id: 'msg_e', type: 'message', role: 'assistant', model: 'claude-sonnet-4-20250514', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } };
const textDelta = (text: string): string => frame({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta');
const messages = {
  opening: frame({ type: 'message_start', message }, 'message_start') + frame({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start') + textDelta('Hello there,') + textDelta(' the weather'),
  error: frame({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'error'),
  mentions:
    textDelta('event: error\ndata: {"type":"error"}\n\n') +
    frame({ type: 'content_block_stop', index: 0 }, 'content_block_stop') +
    frame({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 20 } }, 'message_delta') +
    frame({ type: 'message_stop' }, 'message_stop'),
};

const responseHead = { id: 'resp_e', object: 'response', created_at: 1760000000, status: 'in_progress', model: 'gpt-4o-2024-08-06', output: [], usage: null };
const responses = {
  opening:
    frame({ type: 'response.created', sequence_number: 0, response: responseHead }, 'response.created') +
    frame({ type: 'response.output_text.delta', sequence_number: 1, item_id: 'msg_e', output_index: 0, content_index: 0, delta: 'Hello there,' }, 'response.output_text.delta') +
    frame({ type: 'response.output_text.delta', sequence_number: 2, item_id: 'msg_e', output_index: 0, content_index: 0, delta: ' the weather' }, 'response.output_text.delta'),
  error: frame({ type: 'error', sequence_number: 3, code: 'server_error', message: 'The server had an error while processing your request.', param: null }, 'error'),
};

/** Each upstream request: when it came, and when its connection closed (undefined while open). */
const upstreamCalls: Array<{ closedAtMs?: number }> = [];

/** The stream for the request's API: its opening, then its error event (the connection left open), or its output mentioning errors. */
function answer(path: string, raw: string, res: ServerResponse): void {
  const wire = path.endsWith('/messages') ? messages : path.endsWith('/responses') ? responses : chat;
  const call: { closedAtMs?: number } = {};
  upstreamCalls.push(call);
  res.on('close', () => (call.closedAtMs = Date.now()));
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  if (raw.includes('Mention errors') && 'mentions' in wire) return void res.end(wire.opening + wire.mentions);
  res.write(wire.opening + wire.error); // and nothing more: no end
}

const { gw } = useBehindWireUpstream(
  (req, res, raw) => answer(req.url ?? '', raw, res),
  (url) => `
providers:
  gpt: {type: openai, base_url: "${url}", api_key: sk-up, timeout_ms: ${TIMEOUT_MS}}
  claude: {type: anthropic, base_url: "${url.slice(0, -'/v1'.length)}", api_key: sk-up, timeout_ms: ${TIMEOUT_MS}}
projects: {p: {daily_limit: 100000}}
routes:
  r:
    chat_models:
      - {model_id: gpt-4o, model: gpt/gpt-4o-2024-08-06}
      - {model_id: claude, model: claude/claude-sonnet-4-20250514}
keys: [{id: k, key: tg-k, project: p}]
`,
);

type Api = 'chat' | 'responses' | 'messages' | 'chat on Claude';
const REQUESTS: Record<Api, { path: string; body: object }> = {
  chat: { path: '/v1/chat/completions', body: { model: 'gpt-4o', stream: true, max_tokens: 100, messages: [{ role: 'user', content: 'Weather?' }] } },
  responses: { path: '/v1/responses', body: { model: 'gpt-4o', stream: true, max_output_tokens: 100, input: 'Weather?' } },
  messages: { path: '/v1/messages', body: { model: 'claude', stream: true, max_tokens: 100, messages: [{ role: 'user', content: 'Weather?' }] } },
  'chat on Claude': { path: '/v1/chat/completions', body: { model: 'claude', stream: true, max_tokens: 100, messages: [{ role: 'user', content: 'Weather?' }] } },
};

/** Streams one call to its end as a client that reads everything would; the text and how long the gateway took to end it. */
async function streamed(api: Api, prompt = 'Weather?'): Promise<{ text: string; ms: number }> {
  const { path, body } = REQUESTS[api];
  const extra = api === 'responses' ? { input: prompt } : { messages: [{ role: 'user', content: prompt }] };
  const started = Date.now();
  const res = await fetch(`${gw().url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tg-k' }, body: JSON.stringify({ ...body, ...extra }) });
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, ms: Date.now() - started };
}

describe('an upstream error event on a connection the upstream leaves open', () => {
  it.each(['chat', 'responses', 'messages', 'chat on Claude'] as const)('%s: the client gets the error and the end of its stream at once, not at timeout_ms; the upstream request is closed; recorded failed, charged what was produced', async (api) => {
    const before = gw().calls.length;
    const { text, ms } = await streamed(api);
    // Relayed once: before, the gateway added its own error frame when timeout_ms ended the read.
    expect(text.match(/server had an error|Overloaded/g)).toHaveLength(1);
    expect(ms).toBeLessThan(1000); // before: TIMEOUT_MS (3.0 s)
    const upstream = upstreamCalls.at(-1)!;
    await until(() => upstream.closedAtMs !== undefined, 1000);
    await until(() => gw().calls.length > before, 1000);
    const call = gw().calls.at(-1)!;
    expect(call).toMatchObject({ status: 502, decision: 'failed', streamEnd: 'upstream_failed' });
    expect(call.usage.output).toBe(countTextTokens(ANSWER, api === 'chat' || api === 'responses' ? 'gpt-4o' : 'claude-sonnet-4-20250514'));
    expect(await gw().store.openReservations()).toBe(0);
  });

  it.each(['chat', 'messages', 'chat on Claude'] as const)('%s: output that mentions an error (text, tool arguments) is output: the stream runs to its end', async (api) => {
    const before = gw().calls.length;
    const { text } = await streamed(api, 'Mention errors');
    expect(text).toContain(api === 'messages' ? 'message_stop' : '[DONE]');
    await until(() => gw().calls.length > before, 1000);
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, decision: 'admitted', streamEnd: 'complete' });
  });
});
