// Claude's extended thinking is billed as output in full, but since Claude 4 a stream shows only a summary of
// it (or nothing, with `display: "omitted"`; Claude 3.7's `redacted_thinking` is encrypted): "you're charged
// for the full thinking tokens, not the summary tokens". Anthropic reports the output only in the last
// `message_delta`, so a client that leaves mid-stream leaves the gateway with what it saw. It charged that:
// a call Anthropic billed 1,830 output tokens for was settled at 13, and a hard limit never heard of
// the rest (so the next calls went past it). Such a call is now charged its whole grant, as an OpenAI
// reasoning model's is (reasoning-unseen-output.test.ts), and so is one whose server-side fallback thinks
// (was 6 output tokens); a call without thinking is still charged its visible text.
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../src/proxy/gateway.js';
import { until } from './helpers/until.js';
import { writePaced } from './helpers/wire-upstream.js';
import { leftEarly } from './helpers/left-early.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

const event = (type: string, data: object): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const WORDS = ['Yes, ', 'Boston ', 'is ', 'in ', 'Massachusetts.'];

// Streams as Claude 4 does with thinking: a thinking block holding a short summary (none when
// omitted), its signature, then the answer a word every 30 ms, and the output billed (1,800 of it thinking).
const { gw } = useBehindWireUpstream((_req, res, raw) => {
  const body = JSON.parse(raw) as { model: string; thinking?: { type: string; display?: string } };
  const thinks = body.thinking !== undefined && body.thinking.type !== 'disabled';
  const frames: string[] = [event('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 25, output_tokens: 1 } } })];
  let index = 0;
  if (thinks) {
    frames.push(event('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
    if (body.thinking!.display !== 'omitted') frames.push(event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: 'The capital question; yes.' } }));
    frames.push(event('content_block_delta', { index, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM'.repeat(20) } }));
    frames.push(event('content_block_stop', { index }));
    index++;
  }
  frames.push(event('content_block_start', { index, content_block: { type: 'text', text: '' } }));
  for (const w of WORDS) frames.push(event('content_block_delta', { index, delta: { type: 'text_delta', text: w } }));
  frames.push(event('content_block_stop', { index }));
  frames.push(event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: thinks ? 1830 : 30 } }));
  frames.push(event('message_stop', {}));
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  writePaced(res, frames, 30);
}, (url) => `
providers:
  claude: {type: anthropic, base_url: "${url}", api_key: sk-up}
projects: {p: {daily_limit: 1000000}}
routes:
  r:
    chat_models: [{model_id: claude-sonnet-4-5, model: claude/claude-sonnet-4-5}, {model_id: claude-opus-4-5, model: claude/claude-opus-4-5}]
keys: [{id: k, key: tg-k, project: p}]
`);

/** Whether a Messages stream event is the text delta `text`. */
const textDelta = (text: string) => (ev: unknown): boolean => {
  const e = ev as Anthropic.MessageStreamEvent;
  return e.type === 'content_block_delta' && e.delta.type === 'text_delta' && e.delta.text === text;
};

/** Streams a Messages call, leaving once `leaveAt` text has arrived (never when undefined); the call's record. */
function streamed(extra: object, leaveAt: string | undefined): Promise<CallRecord> {
  const client = new Anthropic({ baseURL: gw().url, apiKey: 'tg-k', maxRetries: 0 });
  const params = { model: 'claude-sonnet-4-5', max_tokens: 4000, messages: [{ role: 'user' as const, content: 'Is Boston in Massachusetts?' }], stream: true as const, ...extra };
  return leftEarly(gw(), (signal) => client.messages.create(params as Anthropic.MessageCreateParamsStreaming, { signal }), leaveAt === undefined ? () => false : textDelta(leaveAt));
}

describe('a Claude stream with thinking that the client leaves before the usage', () => {
  it('is charged its whole grant: the thinking was billed in full, only its summary was seen', async () => {
    const call = await streamed({ thinking: { type: 'enabled', budget_tokens: 2048 } }, 'Boston ');
    expect(call.status).toBe(499);
    // Was 25 in, ~20 out: the summary and two words.
    expect(call.usage).toMatchObject({ input: 25, output: 4000, source: 'estimated' });
  });

  it('so is adaptive thinking, and thinking whose display is omitted', async () => {
    expect((await streamed({ thinking: { type: 'adaptive' } }, 'Boston ')).usage).toMatchObject({ output: 4000, source: 'estimated' });
    expect((await streamed({ thinking: { type: 'enabled', budget_tokens: 2048, display: 'omitted' } }, 'Boston ')).usage).toMatchObject({ output: 4000, source: 'estimated' });
  });

  it('so is a call whose server-side fallback thinks, where the requested model does not', async () => {
    const client = new Anthropic({ baseURL: gw().url, apiKey: 'tg-k', maxRetries: 0, defaultHeaders: { 'anthropic-beta': 'server-side-fallback-2026-07-01' } });
    const params = { model: 'claude-sonnet-4-5', max_tokens: 4000, messages: [{ role: 'user', content: 'Is Boston in Massachusetts?' }], stream: true, fallbacks: [{ model: 'claude-opus-4-5', thinking: { type: 'enabled', budget_tokens: 2048 } }] };
    const call = await leftEarly(gw(), (signal) => client.messages.create(params as unknown as Anthropic.MessageCreateParamsStreaming, { signal }), textDelta('Boston '));
    // The grant covers both attempts' max_tokens.
    expect(call.usage).toMatchObject({ output: 8000, source: 'estimated' });
  });

  it('and through the OpenAI chat bridge, thinking sent as an extra field', async () => {
    const before = gw().calls.length;
    const abort = new AbortController();
    const res = await fetch(`${gw().url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 4000, stream: true, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [{ role: 'user', content: 'Is Boston in Massachusetts?' }] }),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('Boston')) seen += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    await until(() => gw().calls.length > before);
    expect(gw().calls.at(-1)!.usage).toMatchObject({ output: 4000, source: 'estimated' });
  });

  it("is settled at Anthropic's figures when the stream ends", async () => {
    const call = await streamed({ thinking: { type: 'enabled', budget_tokens: 2048 } }, undefined);
    expect(call.status).toBe(200);
    expect(call.usage).toMatchObject({ input: 25, output: 1830, source: 'provider' });
  });

  it('a call without thinking left the same way is still charged what it showed', async () => {
    const call = await streamed({}, 'Boston ');
    expect(call.status).toBe(499);
    expect(call.usage.source).toBe('estimated');
    expect(call.usage.output).toBeGreaterThan(0);
    expect(call.usage.output).toBeLessThan(20);
  });
});
