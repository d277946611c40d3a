// A stream ends for the client at its last event ([DONE], message_stop, response.completed), and the rest of
// the upstream body is read apart (stream-relay.ts readRestApart): a provider's body ends just after that
// event, often in a later read, and the connection must still go back to the pool. Ten streams one after
// another, each body ended 20 ms after its last event: one upstream connection for all of them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

const frame = (data: object | string, event?: string): string => `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const chunk = (delta: object, finish: string | null = null, usage: object | null = null): object => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1760000000, model: 'gpt-4o', choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }], usage });

const CHAT = [frame(chunk({ role: 'assistant', content: 'Hello' })), frame(chunk({}, 'stop')), frame(chunk({}, null, { prompt_tokens: 8, completion_tokens: 1, total_tokens: 9 })), frame('[DONE]')];
const MESSAGE = { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 8, output_tokens: 1 } };
const CLAUDE = [
  frame({ type: 'message_start', message: MESSAGE }, 'message_start'),
  frame({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
  frame({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } }, 'content_block_delta'),
  frame({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
  frame({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 1 } }, 'message_delta'),
  frame({ type: 'message_stop' }, 'message_stop'),
];

/** The upstream connections each provider's calls came on (each provider has a pool of its own). */
const sockets = { chat: new Set<string>(), messages: new Set<string>() };
/** Each frame in its own write, then the body ended 20 ms after the last. */
function answer(req: IncomingMessage, res: ServerResponse): void {
  const claude = req.url?.endsWith('/messages') === true;
  sockets[claude ? 'messages' : 'chat'].add(`${req.socket.remoteAddress}:${req.socket.remotePort}`);
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const frames = claude ? CLAUDE : CHAT;
  for (const f of frames) res.write(f);
  setTimeout(() => res.end(), 20);
}

describe('a stream that ended at its last event', () => {
  const h = useBehindWireUpstream(answer, (url) => `
providers:
  up: {type: openai, base_url: "${url}"}
  an: {type: anthropic, base_url: "${url.replace(/\/v1$/, '')}"}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}, {model_id: claude, model: an/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-keep, project: p}]
`);

  it('gives its upstream connection back for the next call (OpenAI and Anthropic streams)', async () => {
    const openai = new OpenAI({ apiKey: 'tg-keep', baseURL: `${h.gw().url}/v1`, maxRetries: 0 });
    const anthropic = new Anthropic({ apiKey: 'tg-keep', baseURL: h.gw().url, maxRetries: 0 });
    sockets.chat.clear();
    sockets.messages.clear();
    for (let i = 0; i < 10; i++) {
      let text = '';
      if (i % 2 === 0) {
        const stream = await openai.chat.completions.create({ model: 'gpt-4o', max_tokens: 20, messages: [{ role: 'user', content: 'Hi' }], stream: true });
        for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      } else {
        const stream = anthropic.messages.stream({ model: 'claude', max_tokens: 20, messages: [{ role: 'user', content: 'Hi' }] });
        text = (await stream.finalMessage()).content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      }
      expect(text).toBe('Hello');
      // The body's end comes 20 ms after the answer did: the next call finds the connection free again.
      await new Promise((r) => setTimeout(r, 60));
    }
    expect([sockets.chat.size, sockets.messages.size]).toEqual([1, 1]);
    expect(h.gw().calls.map((c) => c.streamEnd)).toEqual(Array(10).fill('complete'));
  });
});
