// How a stream ends decides what the client hears and what is charged. Regression tests from an audit:
// a connection that drops after the last event lost nothing (it was reported as a failure, and the
// Anthropic SDK threw on a complete answer); a body that ends cleanly before the last event was cut
// short (it was recorded as complete, with no error for the client); an Anthropic stream that fails
// right after message_start produced nothing (its reported input was charged).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';

const fixture = (name: string): string[] =>
  readFileSync(new URL(`../src/providers/sse/fixtures/${name}`, import.meta.url), 'utf8')
    .split('\n\n')
    .filter((f) => f.trim() !== '')
    .map((f) => f + '\n\n');
const OPENAI_FRAMES = fixture('openai-chat-include-usage.sse');
const ANTHROPIC_FRAMES = fixture('anthropic-messages.sse');
const OVERLOADED = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';

/** How the scripted upstream ends each stream, by the upstream model's name. */
function script(model: string): { frames: string[]; end: 'drop' | 'end' } {
  const frames = model.startsWith('claude') ? ANTHROPIC_FRAMES : OPENAI_FRAMES;
  if (model.endsWith('drop-after-end')) return { frames, end: 'drop' };
  if (model.endsWith('eof-early')) return { frames: frames.slice(0, 4), end: 'end' };
  if (model.endsWith('overloaded')) return { frames: [ANTHROPIC_FRAMES[0], OVERLOADED], end: 'end' };
  throw new Error(`no script for ${model}`);
}

let upstream: Server;
let gw: TestGateway;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { frames, end } = script(JSON.parse(body).model as string);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(frames.join(''), () => {
        // 'drop': the last event went out, then the connection dies without the chunked body's end.
        if (end === 'drop') setTimeout(() => res.socket?.destroy(), 20);
        else res.end();
      });
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startTestGateway(`
providers:
  gpt: {type: openai, base_url: "${url}/v1", api_key: sk-up}
  claude: {type: anthropic, base_url: "${url}", api_key: sk-up}
projects: {p: {daily_limit: 100000}}
routes:
  r:
    chat_models:
      - {model_id: gpt-drop, model: gpt/gpt-4o-drop-after-end}
      - {model_id: gpt-eof, model: gpt/gpt-4o-eof-early}
      - {model_id: claude-drop, model: claude/claude-sonnet-4-5-drop-after-end}
      - {model_id: claude-eof, model: claude/claude-sonnet-4-5-eof-early}
      - {model_id: claude-overloaded, model: claude/claude-sonnet-4-5-overloaded}
keys: [{id: a, key: tg-a, project: p}]
`);
});
afterAll(async () => {
  await gw?.close();
  await new Promise((r) => upstream?.close(r));
});

const openai = (): OpenAI => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'tg-a', maxRetries: 0 });
const anthropic = (): Anthropic => new Anthropic({ baseURL: gw.url, apiKey: 'tg-a', maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'Hello' }];

/** The call's record, once the gateway has made it. */
async function recordOf(before: number): Promise<TestGateway['calls'][number]> {
  for (let i = 0; i < 200 && gw.calls.length <= before; i++) await new Promise((r) => setTimeout(r, 10));
  return gw.calls[before];
}

describe('a connection that drops after the stream\'s last event', () => {
  it('is a complete call for the OpenAI SDK, settled with the provider\'s usage', async () => {
    const before = gw.calls.length;
    const done = await openai().chat.completions.stream({ model: 'gpt-drop', messages, stream_options: { include_usage: true } }).finalChatCompletion();
    expect(done.choices[0].finish_reason).toBe('stop');
    expect(done.usage?.completion_tokens).toBeGreaterThan(0);
    expect(await recordOf(before)).toMatchObject({ status: 200, streamEnd: 'complete', usage: { source: 'provider', output: done.usage!.completion_tokens } });
  });

  it('is a complete message for the Anthropic SDK (no error event after message_stop)', async () => {
    const before = gw.calls.length;
    const message = await anthropic().messages.stream({ model: 'claude-drop', max_tokens: 100, messages }).finalMessage();
    expect(message.content).toMatchObject([{ type: 'text', text: 'Bonjour à tous' }]);
    expect(await recordOf(before)).toMatchObject({ status: 200, streamEnd: 'complete', usage: { source: 'provider', input: 21, output: 4 } });
    expect(await gw.store.openReservations()).toBe(0);
  });
});

describe('a body that ends cleanly before the stream\'s last event', () => {
  it('reaches the OpenAI SDK as an error, and is recorded as failed', async () => {
    const before = gw.calls.length;
    const stream = await openai().chat.completions.create({ model: 'gpt-eof', messages, stream: true });
    await expect(async () => {
      for await (const _chunk of stream) void _chunk;
    }).rejects.toThrow(/ended before its last event/);
    expect(await recordOf(before)).toMatchObject({ status: 502, streamEnd: 'upstream_failed' });
  });

  it('reaches the Anthropic SDK as an error event, and is recorded as failed', async () => {
    const before = gw.calls.length;
    await expect(anthropic().messages.stream({ model: 'claude-eof', max_tokens: 100, messages }).finalMessage()).rejects.toThrow(/ended before its last event/);
    expect(await recordOf(before)).toMatchObject({ status: 502, streamEnd: 'upstream_failed' });
  });
});

it('an Anthropic stream that fails right after message_start is refunded, as on OpenAI', async () => {
  const before = gw.calls.length;
  await expect(anthropic().messages.stream({ model: 'claude-overloaded', max_tokens: 100, messages }).finalMessage()).rejects.toThrow(/Overloaded/);
  expect(await recordOf(before)).toMatchObject({ status: 502, decision: 'failed', usage: { input: 0, output: 0 } });
  expect(await gw.store.openReservations()).toBe(0);
});
