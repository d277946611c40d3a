// The mock's Anthropic /v1/messages and count_tokens: messages, their exact event streams, prompt-cache
// figures, thinking and tool use.
import { describe, expect, it } from 'vitest';
import { countTextTokens, estimateInput } from '../../tokens/index.js';
import type { MockReply } from './index.js';
import { json, messages, post, sse } from './test-fixtures.js';

describe('anthropic messages', () => {
  const body = { model: 'claude-sonnet-4-20250514', max_tokens: 100, messages, mock_output_tokens: 4 };

  it('answers with a message object', () => {
    const { body: res, reply } = json(post('/v1/messages', body));
    expect(reply.headers['request-id']).toMatch(/^req_/);
    expect(Object.keys(res)).toEqual(['id', 'type', 'role', 'model', 'content', 'stop_reason', 'stop_sequence', 'stop_details', 'usage']);
    expect(res.id).toMatch(/^msg_01/);
    expect(res.content).toEqual([{ type: 'text', text: expect.any(String) }]);
    expect(res.stop_reason).toBe('end_turn');
    const input = estimateInput('messages', body, body.model).exact();
    expect(res.usage).toEqual({
      input_tokens: input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 4, service_tier: 'standard',
    });
    expect(json(post('/v1/messages', { ...body, max_tokens: 2 })).body.stop_reason).toBe('max_tokens');
  });

  it('streams the exact event sequence with cumulative usage', () => {
    const { reply, events } = sse(post('/v1/messages', { ...body, stream: true }));
    expect(reply.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(events.map((e) => e.event)).toEqual([
      'message_start', 'content_block_start', 'ping',
      'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_delta',
      'content_block_stop', 'message_delta', 'message_stop',
    ]);
    const data = events.map((e) => JSON.parse(e.data));
    for (let i = 0; i < events.length; i++) expect(data[i].type).toBe(events[i]!.event);
    const input = estimateInput('messages', { ...body, stream: true }, body.model).exact();
    expect(data[0].message).toEqual({
      id: expect.stringMatching(/^msg_01/), type: 'message', role: 'assistant', model: body.model, content: [],
      stop_reason: null, stop_sequence: null,
      usage: { input_tokens: input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1, service_tier: 'standard' },
    });
    expect(data[1]).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    expect(data[3].delta.type).toBe('text_delta');
    expect(data[8]).toEqual({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null, stop_details: null }, usage: { output_tokens: 4 } });
  });

  it('validates like the real API', () => {
    const { status, body: err } = json(post('/v1/messages', { model: 'c', messages }));
    expect(status).toBe(400);
    expect(err).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' }, request_id: expect.stringMatching(/^req_/) });
  });

  it('counts tokens', () => {
    const b = { model: 'c', messages };
    expect(json(post('/v1/messages/count_tokens', b)).body).toEqual({ input_tokens: estimateInput('messages', b, 'c').exact() });
  });
});

describe('anthropic messages: cache, thinking and tool use', () => {
  const base = { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'lorem ipsum '.repeat(200) }], mock_output_tokens: 4 };
  const prompt = estimateInput('messages', base, base.model).exact();
  const parse = (reply: MockReply) => sse(reply).events.map((e) => ({ event: e.event, data: JSON.parse(e.data) }));

  it('reports the cache reads and writes asked for, carved out of the prompt, with the TTL split', () => {
    const body = { ...base, mock_cache_read_tokens: 100, mock_cache_write_tokens: 50, mock_cache_write_1h_tokens: 25 };
    expect(json(post('/v1/messages', body)).body.usage).toEqual({
      input_tokens: prompt - 175, cache_creation_input_tokens: 75, cache_read_input_tokens: 100,
      cache_creation: { ephemeral_5m_input_tokens: 50, ephemeral_1h_input_tokens: 25 }, output_tokens: 4, service_tier: 'standard',
    });
    // Streamed: message_start has the split; message_delta repeats the cumulative figures without it, as the API does.
    const events = parse(post('/v1/messages', { ...body, stream: true }));
    const streamed = estimateInput('messages', { ...body, stream: true }, base.model).exact();
    expect(events[0]!.data.message.usage).toEqual({
      input_tokens: streamed - 175, cache_creation_input_tokens: 75, cache_read_input_tokens: 100,
      cache_creation: { ephemeral_5m_input_tokens: 50, ephemeral_1h_input_tokens: 25 }, output_tokens: 1, service_tier: 'standard',
    });
    expect(events.find((e) => e.event === 'message_delta')!.data.usage).toEqual({
      input_tokens: streamed - 175, cache_creation_input_tokens: 75, cache_read_input_tokens: 100, output_tokens: 4,
    });
    // Cache figures larger than the prompt are reported as given, with no fresh input.
    expect(json(post('/v1/messages', { ...base, mock_cache_read_tokens: 1_000_000 })).body.usage).toMatchObject({ input_tokens: 0, cache_read_input_tokens: 1_000_000 });
  });

  it('answers a forced tool choice with the tool call alone, its input from the schema', () => {
    const tools = [
      { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer' } } } },
      { name: 'get_time', input_schema: { type: 'object', properties: {} } },
      { type: 'web_search_20250305', name: 'web_search' },
    ];
    const input = { location: 'mock', unit: 'celsius', days: 1 };
    const any = json(post('/v1/messages', { ...base, tools, tool_choice: { type: 'any' } })).body;
    expect(any.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^toolu_01/), name: 'get_weather', input }]);
    expect(any.stop_reason).toBe('tool_use');
    expect(any.usage.output_tokens).toBe(countTextTokens('get_weather' + JSON.stringify(input), base.model));
    const named = json(post('/v1/messages', { ...base, tools, tool_choice: { type: 'tool', name: 'get_time' } })).body;
    expect(named.content).toEqual([{ type: 'tool_use', id: expect.any(String), name: 'get_time', input: {} }]);
    // auto: text only, unless mock_tool_use asks for a call after it; none: never a call.
    expect(json(post('/v1/messages', { ...base, tools })).body.content.map((b: { type: string }) => b.type)).toEqual(['text']);
    expect(json(post('/v1/messages', { ...base, tools, mock_tool_use: true })).body.content.map((b: { type: string }) => b.type)).toEqual(['text', 'tool_use']);
    expect(json(post('/v1/messages', { ...base, tools, tool_choice: { type: 'none' }, mock_tool_use: true })).body.content.map((b: { type: string }) => b.type)).toEqual(['text']);
    // Cut by max_tokens before it: no call, stop_reason max_tokens.
    const cut = json(post('/v1/messages', { ...base, max_tokens: 2, tools, mock_tool_use: true })).body;
    expect([cut.content.map((b: { type: string }) => b.type), cut.stop_reason]).toEqual([['text'], 'max_tokens']);
  });

  it('streams a tool call as input_json_delta pieces that add up to its input', () => {
    const tools = [{ name: 'get_weather', input_schema: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string' } } } }];
    const events = parse(post('/v1/messages', { ...base, tools, mock_tool_use: true, stream: true }));
    expect(events.map((e) => e.event)).toEqual([
      'message_start', 'content_block_start', 'ping', ...Array(4).fill('content_block_delta'), 'content_block_stop',
      'content_block_start', ...Array(4).fill('content_block_delta'), 'content_block_stop', 'message_delta', 'message_stop',
    ]);
    expect(events[8]!.data).toEqual({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: expect.stringMatching(/^toolu_01/), name: 'get_weather', input: {} } });
    const json = events.filter((e) => e.data.delta?.type === 'input_json_delta').map((e) => e.data.delta.partial_json as string);
    expect(json[0]).toBe('');
    expect(JSON.parse(json.join(''))).toEqual({ location: 'mock', unit: 'mock' });
    expect(events.at(-2)!.data).toEqual({
      type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null, stop_details: null },
      usage: { output_tokens: 4 + countTextTokens('get_weather{"location":"mock","unit":"mock"}', base.model) },
    });
  });

  it('thinks first when thinking is enabled: thinking deltas, then the signature, counted as output', () => {
    const body = { ...base, max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, mock_thinking_tokens: 3, stream: true };
    const events = parse(post('/v1/messages', body));
    expect(events.slice(1, 8).map((e) => [e.event, e.data.content_block?.type ?? e.data.delta?.type])).toEqual([
      ['content_block_start', 'thinking'], ['ping', undefined], ['content_block_delta', 'thinking_delta'], ['content_block_delta', 'thinking_delta'],
      ['content_block_delta', 'thinking_delta'], ['content_block_delta', 'signature_delta'], ['content_block_stop', undefined],
    ]);
    expect(events[1]!.data.content_block).toEqual({ type: 'thinking', thinking: '', signature: '' });
    expect(events[8]!.data).toEqual({ type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } });
    expect(events.at(-2)!.data.usage).toEqual({ output_tokens: 7 });
    const message = json(post('/v1/messages', { ...body, stream: false })).body;
    expect(message.content).toEqual([{ type: 'thinking', thinking: expect.any(String), signature: expect.any(String) }, { type: 'text', text: expect.any(String) }]);
    expect(message.usage.output_tokens).toBe(7);
    // Thinking and text share max_tokens: the text is cut where they reach it.
    const tight = json(post('/v1/messages', { ...body, stream: false, max_tokens: 1030, thinking: { type: 'enabled', budget_tokens: 1024 }, mock_thinking_tokens: 1028, mock_output_tokens: 10 })).body;
    expect([tight.usage.output_tokens, tight.stop_reason]).toEqual([1030, 'max_tokens']);
    // Adaptive thinking has no budget: the default length.
    expect(json(post('/v1/messages', { ...base, thinking: { type: 'adaptive' } })).body.usage.output_tokens).toBe(16 + 4);
  });
});
