import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from '../sse/index.js';
import type { StreamAdapter } from '../stream-adapter.js';
import { AnthropicMessagesStream, chatToMessages, messageToChat, MessagesToChatStream } from './index.js';

const fixture = (name: string): SseEvent[] => {
  const p = new SseParser();
  return [...p.push(readFileSync(new URL(`../sse/fixtures/${name}`, import.meta.url))), ...p.end()];
};

/** Runs recorded events through an adapter; returns the client's events. */
function run(adapter: StreamAdapter, events: SseEvent[]): SseEvent[] {
  let out = '';
  for (const ev of events) {
    const step = adapter.step(ev);
    out += step.out === 'pass' ? `${ev.event ? `event: ${ev.event}\n` : ''}data: ${ev.data}\n\n` : step.out === 'drop' ? '' : step.out;
  }
  const p = new SseParser();
  return [...p.push(Buffer.from(out)), ...p.end()];
}

describe('Anthropic stream usage', () => {
  it('takes input from message_start and the last cumulative message_delta, never a sum', () => {
    const adapter = new AnthropicMessagesStream();
    run(adapter, fixture('anthropic-messages-tool-use.sse'));
    // 472 + 64 cache reads; output 2 at start, then 40, then 89 in all: 89, not 131.
    expect(adapter.usage).toEqual({ input: 536, cachedInput: 64, output: 89, final: true });
  });

  it('passes every event through untouched and meters text, tool names and tool input', () => {
    const adapter = new AnthropicMessagesStream();
    const texts = fixture('anthropic-messages-tool-use.sse').map((e) => adapter.step(e).text).filter(Boolean);
    expect(texts).toEqual(['Okay, let\'s check the weather for San Francisco, CA:', 'get_weather', '{"location": "San Fra', 'ncisco, CA", "unit": "fahrenheit"}']);
  });

  it('ends a cut stream with content_block_stop, message_delta (max_tokens, usage) and message_stop', () => {
    const adapter = new AnthropicMessagesStream();
    const events = fixture('anthropic-messages.sse');
    for (const e of events.slice(0, 4)) adapter.step(e); // up to the first text delta: block 0 is open
    const ending = adapter.cutoff({ input: 21, output: 1, cachedInput: 0, source: 'estimated' });
    const p = new SseParser();
    const parsed = p.push(Buffer.from(ending)).map((e) => ({ event: e.event, data: JSON.parse(e.data) }));
    expect(parsed).toEqual([
      { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
      { event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: 1 } } },
      { event: 'message_stop', data: { type: 'message_stop' } },
    ]);
  });
});

describe('OpenAI chat → Anthropic Messages', () => {
  it('maps system messages, content parts, tools, tool calls and results, and sampling parameters', () => {
    const body = {
      model: 'anthropic/claude-sonnet-4',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use tools.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
      ],
      temperature: 1.5,
      top_p: 0.9,
      stop: 'END',
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      user: 'u-42',
      frequency_penalty: 0.5,
      top_k: 5,
    };
    expect(chatToMessages(body, 'claude-sonnet-4-20250514')).toEqual({
      model: 'claude-sonnet-4-20250514',
      system: [
        { type: 'text', text: 'Be brief.' },
        { type: 'text', text: 'Use tools.' },
      ],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: '18C' }] },
      ],
      temperature: 1,
      top_p: 0.9,
      stop_sequences: ['END'],
      stream: true,
      tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      metadata: { user_id: 'u-42' },
      top_k: 5, // unknown to OpenAI: passed through
    });
  });

  it("maps parallel_tool_calls: false onto every tool choice that has the field, and not onto 'none'", () => {
    const choiceFor = (tool_choice: unknown): unknown =>
      chatToMessages({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }], tool_choice, parallel_tool_calls: false }, 'c').tool_choice;
    expect(choiceFor('none')).toEqual({ type: 'none' });
    expect(choiceFor('auto')).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(choiceFor(undefined)).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(choiceFor({ type: 'function', function: { name: 'f' } })).toEqual({ type: 'tool', name: 'f', disable_parallel_tool_use: true });
  });

  it('carries prompt-caching marks: on content parts, tools, and whole messages (their last block)', () => {
    const ephemeral = { type: 'ephemeral' };
    const hour = { type: 'ephemeral', ttl: '1h' };
    const body = {
      model: 'm',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Long instructions.', cache_control: hour }] },
        { role: 'user', content: 'A long document.', cache_control: ephemeral },
        { role: 'assistant', content: 'Read.', cache_control: ephemeral },
        { role: 'user', content: [{ type: 'text', text: 'First.' }, { type: 'image_url', image_url: { url: 'https://x/y.png' }, cache_control: ephemeral }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'result', cache_control: ephemeral },
        { role: 'user', content: 'Now?' },
      ],
      tools: [{ type: 'function', function: { name: 'f' }, cache_control: ephemeral }],
    };
    const out = chatToMessages(body, 'c');
    expect(out.system).toEqual([{ type: 'text', text: 'Long instructions.', cache_control: hour }]);
    expect(out.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'A long document.', cache_control: ephemeral }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Read.', cache_control: ephemeral }] },
      { role: 'user', content: [{ type: 'text', text: 'First.' }, { type: 'image', source: { type: 'url', url: 'https://x/y.png' }, cache_control: ephemeral }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'f', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: 'result', cache_control: ephemeral }] },
      { role: 'user', content: 'Now?' },
    ]);
    expect(out.tools).toEqual([{ name: 'f', input_schema: { type: 'object', properties: {} }, cache_control: ephemeral }]);
    expect(() => chatToMessages({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: 'ephemeral' }] }] }, 'c')).toThrow(
      `'messages[0].content[0].cache_control' must be an object`,
    );
    expect(() => chatToMessages({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' }, cache_control: true }] }, 'c')).toThrow(`'tools[0].cache_control'`);
  });

  // An OpenAI app moved to Claude keeps its history: an earlier answer that was a refusal comes back as an
  // assistant `refusal` part or field, which were a 400 (or silently dropped).
  it("carries an earlier answer's refusal as the assistant's text", () => {
    const asPart = chatToMessages({ model: 'm', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'refusal', refusal: 'I cannot help with that.' }] }, { role: 'user', content: 'y' }] }, 'c');
    expect((asPart.messages as unknown[])[1]).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'I cannot help with that.' }] });
    const asField = chatToMessages({ model: 'm', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: null, refusal: 'No.' }, { role: 'user', content: 'y' }] }, 'c');
    expect((asField.messages as unknown[])[1]).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'No.' }] });
  });

  it('refuses what Anthropic cannot do, with the field named', () => {
    expect(() => chatToMessages({ model: 'm', messages: [{ role: 'user', content: 'x' }], n: 2 }, 'c')).toThrow(/'n' must be 1/);
    expect(() => chatToMessages({ model: 'm', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] }, 'c')).toThrow(/input_audio/);
  });

  it('translates a message with text and a tool call into a chat completion', () => {
    const completion = messageToChat(
      {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-20250514',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
        stop_reason: 'tool_use',
        stop_sequence: null,
        usage: { input_tokens: 10, cache_creation_input_tokens: 5, cache_read_input_tokens: 20, output_tokens: 7 },
      },
      1_700_000_000,
    );
    expect(completion).toEqual({
      id: 'msg_1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'claude-sonnet-4-20250514',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Checking.', refusal: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 35, completion_tokens: 7, total_tokens: 42, prompt_tokens_details: { cached_tokens: 20 } },
    });
  });

  it('translates a recorded tool-use stream into chunks an OpenAI client assembles to the same answer', () => {
    const chunks = run(new MessagesToChatStream(true), fixture('anthropic-messages-tool-use.sse'));
    expect(chunks.at(-1)).toEqual({ data: '[DONE]' });
    const parsed = chunks.slice(0, -1).map((c) => JSON.parse(c.data));
    for (const c of parsed) expect(c).toMatchObject({ id: 'msg_014p7gG3wDgGV9EUtLvnow3U', object: 'chat.completion.chunk', model: 'claude-sonnet-4-20250514' });
    let content = '';
    const args: string[] = [];
    const openings: unknown[] = [];
    let finish: string | null = null;
    for (const c of parsed) {
      const choice = c.choices[0];
      if (!choice) continue;
      content += choice.delta.content ?? '';
      for (const call of choice.delta.tool_calls ?? []) {
        if (call.id) openings.push(call);
        args[call.index] = (args[call.index] ?? '') + (call.function?.arguments ?? '');
      }
      finish = choice.finish_reason ?? finish;
    }
    expect(openings).toHaveLength(1);
    expect(openings[0]).toMatchObject({ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather' } });
    expect(parsed[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(content).toBe("Okay, let's check the weather for San Francisco, CA:");
    expect(JSON.parse(args[0])).toEqual({ location: 'San Francisco, CA', unit: 'fahrenheit' });
    expect(finish).toBe('tool_calls');
    expect(parsed.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 536, completion_tokens: 89, total_tokens: 625, prompt_tokens_details: { cached_tokens: 64 } } });
  });
});
