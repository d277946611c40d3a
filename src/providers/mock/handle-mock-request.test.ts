import { describe, expect, it } from 'vitest';
import { countTextTokens, estimateInput } from '../../tokens/index.js';
import { SseParser, type SseEvent } from '../sse/index.js';
import { handleMockRequest, type MockJsonReply, type MockOptions, type MockReply, type MockSseReply } from './index.js';

const opts: MockOptions = { latencyMs: 0, outputTokens: 12 };
const messages = [{ role: 'user', content: 'Say hello to the gateway.' }];

function json(reply: MockReply): { status: number; body: any; reply: MockJsonReply } {
  expect(reply.kind).toBe('json');
  const r = reply as MockJsonReply;
  return { status: r.status, body: JSON.parse(r.body), reply: r };
}

function sse(reply: MockReply): { reply: MockSseReply; events: SseEvent[] } {
  expect(reply.kind).toBe('sse');
  const r = reply as MockSseReply;
  for (const f of r.frames) expect(f.endsWith('\n\n')).toBe(true);
  const p = new SseParser();
  const events = [...p.push(Buffer.from(r.frames.join(''))), ...p.end()];
  expect(events).toHaveLength(r.frames.length); // one event per frame
  return { reply: r, events };
}

const post = (path: string, body: unknown, o: MockOptions = opts) => handleMockRequest('POST', path, body, o);

describe('chat completions', () => {
  it('answers with a chat.completion object in the wire order', () => {
    const body = { model: 'gpt-4o-mini', messages };
    const { status, body: res, reply } = json(post('/v1/chat/completions', body));
    expect(status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.headers['x-request-id']).toMatch(/^req_/);
    expect(Object.keys(res)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage', 'service_tier', 'system_fingerprint']);
    expect(res.id).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('gpt-4o-mini');
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0]).toEqual({
      index: 0,
      message: { role: 'assistant', content: expect.any(String), refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: 'stop',
    });
    const prompt = estimateInput('chat', body, 'gpt-4o-mini').exact();
    expect(res.usage).toEqual({
      prompt_tokens: prompt,
      completion_tokens: 12,
      total_tokens: prompt + 12,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    });
  });

  it('cuts at the smaller of max_tokens and max_completion_tokens with finish_reason length', () => {
    const cut = json(post('/v1/chat/completions', { model: 'm', messages, max_tokens: 9, max_completion_tokens: 5 })).body;
    expect(cut.usage.completion_tokens).toBe(5);
    expect(cut.choices[0].finish_reason).toBe('length');
    const roomy = json(post('/v1/chat/completions', { model: 'm', messages, max_completion_tokens: 12 })).body;
    expect(roomy.usage.completion_tokens).toBe(12);
    expect(roomy.choices[0].finish_reason).toBe('stop');
  });

  it('takes mock_output_tokens over the default, still capped by max_tokens', () => {
    expect(json(post('/v1/chat/completions', { model: 'm', messages, mock_output_tokens: 3 })).body.usage.completion_tokens).toBe(3);
    const capped = json(post('/v1/chat/completions', { model: 'm', messages, mock_output_tokens: 30, max_tokens: 4 })).body;
    expect(capped.usage.completion_tokens).toBe(4);
    expect(capped.choices[0].finish_reason).toBe('length');
  });

  it('returns n choices and bills all of them', () => {
    const res = json(post('/v1/chat/completions', { model: 'm', messages, n: 3, mock_output_tokens: 4 })).body;
    expect(res.choices.map((c: any) => c.index)).toEqual([0, 1, 2]);
    expect(new Set(res.choices.map((c: any) => c.message.content)).size).toBe(3);
    expect(res.usage.completion_tokens).toBe(12);
  });

  it('omits usage with mock_omit_usage', () => {
    const res = json(post('/v1/chat/completions', { model: 'm', messages, mock_omit_usage: true })).body;
    expect('usage' in res).toBe(false);
  });

  it('streams role chunk, one chunk per token, finish chunk, usage chunk, [DONE]', () => {
    const body = { model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true }, mock_output_tokens: 5 };
    const { reply, events } = sse(post('/v1/chat/completions', body));
    expect(reply.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(events).toHaveLength(1 + 5 + 1 + 1 + 1);
    expect(events.at(-1)).toEqual({ data: '[DONE]' });
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    for (const c of chunks) {
      expect(Object.keys(c)).toEqual(['id', 'object', 'created', 'model', 'service_tier', 'system_fingerprint', 'choices', 'usage', 'obfuscation']);
      expect(c.object).toBe('chat.completion.chunk');
      expect(c.id).toBe(chunks[0].id);
    }
    expect(chunks[0].choices).toEqual([
      { index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null },
    ]);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    const text = chunks.slice(1, 6).map((c) => c.choices[0].delta.content).join('');
    expect(text.split(' ')).toHaveLength(5);
    expect(chunks[6].choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
    expect(chunks[7].choices).toEqual([]);
    const prompt = estimateInput('chat', body, 'gpt-4o').exact();
    expect(chunks[7].usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 5, total_tokens: prompt + 5 });
  });

  it('pads each text delta with obfuscation to 16 characters, and leaves it out with include_obfuscation: false', () => {
    const on = sse(post('/v1/chat/completions', { model: 'm', messages, stream: true, mock_output_tokens: 4 })).events.slice(1, 5).map((e) => JSON.parse(e.data));
    for (const c of on) expect((c.choices[0].delta.content as string).length + (c.obfuscation as string).length).toBe(16);
    const off = sse(post('/v1/chat/completions', { model: 'm', messages, stream: true, stream_options: { include_obfuscation: false }, mock_output_tokens: 2 })).events;
    for (const e of off.slice(0, -1)) expect(Object.keys(JSON.parse(e.data))).toEqual(['id', 'object', 'created', 'model', 'service_tier', 'system_fingerprint', 'choices']);
  });

  it('refuses stream_options as older Azure api-versions do, with mock_refuse_stream_options', () => {
    const refused = post('/v1/chat/completions', { model: 'm', messages, stream: true, stream_options: { include_usage: true }, mock_refuse_stream_options: true });
    expect(refused.status).toBe(400);
    expect((refused as MockJsonReply).body).toBe('{"error":{"code":null,"message":"Unrecognized request argument supplied: stream_options","param":null,"type":"invalid_request_error"}}');
    expect(post('/v1/chat/completions', { model: 'm', messages, stream: true, mock_refuse_stream_options: true }).status).toBe(200);
  });

  it('streams without usage fields unless include_usage is asked', () => {
    const { events } = sse(post('/v1/chat/completions', { model: 'm', messages, stream: true, mock_output_tokens: 2 }));
    expect(events).toHaveLength(1 + 2 + 1 + 1);
    for (const e of events.slice(0, -1)) expect('usage' in JSON.parse(e.data)).toBe(false);
  });

  it('drops the usage chunk with mock_omit_usage even when include_usage is asked', () => {
    const body = { model: 'm', messages, stream: true, stream_options: { include_usage: true }, mock_output_tokens: 2, mock_omit_usage: true };
    const { events } = sse(post('/v1/chat/completions', body));
    expect(events).toHaveLength(1 + 2 + 1 + 1);
    expect(events.slice(0, -1).every((e) => JSON.parse(e.data).choices.length === 1)).toBe(true);
  });

  it('streams n choices, each with its own role and finish chunk', () => {
    const { events } = sse(post('/v1/chat/completions', { model: 'm', messages, stream: true, n: 2, mock_output_tokens: 3 }));
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data).choices[0]);
    expect(chunks).toHaveLength(2 * (1 + 3 + 1));
    for (const i of [0, 1]) {
      const mine = chunks.filter((c) => c.index === i);
      expect(mine[0].delta.role).toBe('assistant');
      expect(mine.at(-1).finish_reason).toBe('stop');
      expect(mine.slice(1, -1).map((c) => c.delta.content).join('').split(' ')).toHaveLength(3);
    }
  });

  it('passes abort, latency and chunk delay controls to the reply', () => {
    const r = post('/v1/chat/completions', {
      model: 'm', messages, stream: true, mock_abort_after_chunks: 2, mock_latency_ms: 40, mock_chunk_delay_ms: 3,
    }) as MockSseReply;
    expect([r.abortAfterFrames, r.latencyMs, r.chunkDelayMs]).toEqual([2, 40, 3]);
    const d = post('/v1/chat/completions', { model: 'm', messages, stream: true }, { latencyMs: 7, outputTokens: 1, chunkDelayMs: 2 }) as MockSseReply;
    expect([d.abortAfterFrames, d.latencyMs, d.chunkDelayMs]).toEqual([undefined, 7, 2]);
  });

  it('rejects what the real API rejects', () => {
    expect(json(post('/v1/chat/completions', { messages })).body.error.message).toBe('you must provide a model parameter');
    expect(json(post('/v1/chat/completions', { model: 'm' })).body.error).toEqual({
      message: "Missing required parameter: 'messages'.",
      type: 'invalid_request_error',
      param: 'messages',
      code: 'missing_required_parameter',
    });
    const so = json(post('/v1/chat/completions', { model: 'm', messages, stream_options: { include_usage: true } }));
    expect(so.status).toBe(400);
    expect(so.body.error.param).toBe('stream_options');
    expect(json(post('/v1/chat/completions', { model: 'm', messages, max_tokens: 0 })).body.error.code).toBe('integer_below_min_value');
    expect(json(post('/v1/chat/completions', [1, 2])).status).toBe(400);
  });
});

describe('mock_error_status', () => {
  it('answers in the OpenAI error format, with retry-after on 429', () => {
    const { status, body, reply } = json(post('/v1/chat/completions', { model: 'm', messages, mock_error_status: 429 }));
    expect(status).toBe(429);
    expect(reply.headers['retry-after']).toBe('1');
    expect(Object.keys(body.error)).toEqual(['message', 'type', 'param', 'code']);
    expect(body.error.code).toBe('rate_limit_exceeded');
    const five = json(post('/v1/embeddings', { model: 'e', input: 'x', mock_error_status: 500 }));
    expect(five.status).toBe(500);
    expect(five.body.error.type).toBe('server_error');
  });

  it('answers in the Anthropic error format on /v1/messages', () => {
    const { status, body, reply } = json(post('/v1/messages', { model: 'c', messages, max_tokens: 5, mock_error_status: 529 }));
    expect(status).toBe(529);
    expect(reply.headers['request-id']).toMatch(/^req_/);
    // The body names the request as the header does, as Anthropic's error bodies do.
    expect(body).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: reply.headers['request-id'] });
    const limited = json(post('/v1/messages', { model: 'c', messages, max_tokens: 5, mock_error_status: 429 }));
    expect(limited.body.error.type).toBe('rate_limit_error');
    expect(limited.reply.headers['retry-after']).toBe('1');
  });

  it('answers with an error even for a streaming request', () => {
    expect(post('/v1/chat/completions', { model: 'm', messages, stream: true, mock_error_status: 503 }).kind).toBe('json');
  });
});

describe('legacy completions', () => {
  it('answers with a text_completion object', () => {
    const body = { model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time', max_tokens: 4 };
    const { body: res } = json(post('/v1/completions', body));
    expect(Object.keys(res)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage']);
    expect(res.object).toBe('text_completion');
    expect(res.choices).toEqual([{ text: expect.any(String), index: 0, logprobs: null, finish_reason: 'length' }]);
    const prompt = estimateInput('completions', body, body.model).exact();
    expect(res.usage).toEqual({ prompt_tokens: prompt, completion_tokens: 4, total_tokens: prompt + 4 });
  });

  it('answers one choice per prompt per n', () => {
    const res = json(post('/v1/completions', { model: 'i', prompt: ['a', 'b'], n: 2, mock_output_tokens: 2 })).body;
    expect(res.choices.map((c: any) => c.index)).toEqual([0, 1, 2, 3]);
    expect(res.usage.completion_tokens).toBe(8);
  });

  it('streams token chunks, a finish chunk, the usage chunk and [DONE]', () => {
    const body = { model: 'i', prompt: 'x', stream: true, stream_options: { include_usage: true }, mock_output_tokens: 3 };
    const { events } = sse(post('/v1/completions', body));
    expect(events).toHaveLength(3 + 1 + 1 + 1);
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    expect(Object.keys(chunks[0])).toEqual(['id', 'object', 'created', 'choices', 'model', 'usage']);
    expect(chunks[0].object).toBe('text_completion');
    expect(chunks[3].choices[0]).toEqual({ text: '', index: 0, logprobs: null, finish_reason: 'stop' });
    expect(chunks[4].choices).toEqual([]);
    expect(chunks[4].usage.completion_tokens).toBe(3);
    expect(events.at(-1)!.data).toBe('[DONE]');
  });
});

describe('embeddings', () => {
  it('returns float vectors of the requested dimension', () => {
    const body = { model: 'text-embedding-3-small', input: ['alpha', 'beta'], dimensions: 8 };
    const { body: res } = json(post('/v1/embeddings', body));
    expect(Object.keys(res)).toEqual(['object', 'data', 'model', 'usage']);
    expect(res.data.map((d: any) => Object.keys(d))).toEqual([['object', 'index', 'embedding'], ['object', 'index', 'embedding']]);
    expect(res.data[0].embedding).toHaveLength(8);
    const norm = Math.hypot(...res.data[0].embedding);
    expect(norm).toBeCloseTo(1, 5);
    const prompt = estimateInput('embeddings', body, body.model).exact();
    expect(res.usage).toEqual({ prompt_tokens: prompt, total_tokens: prompt });
  });

  it('encodes base64 as little-endian float32 equal to the float form', () => {
    const base = { model: 'e', input: 'same text' };
    const floats = json(post('/v1/embeddings', base)).body.data[0].embedding as number[];
    const b64 = json(post('/v1/embeddings', { ...base, encoding_format: 'base64' })).body.data[0].embedding as string;
    const buf = Buffer.from(b64, 'base64');
    expect(buf.length).toBe(1536 * 4);
    const decoded = Array.from({ length: 1536 }, (_, i) => buf.readFloatLE(i * 4));
    expect(decoded).toEqual(floats.map((f) => Math.fround(f)));
  });

  it('uses embeddingDimensions from the options and treats a token array as one input', () => {
    const res = json(post('/v1/embeddings', { model: 'e', input: [1, 2, 3] }, { ...opts, embeddingDimensions: 4 })).body;
    expect(res.data).toHaveLength(1);
    expect(res.data[0].embedding).toHaveLength(4);
  });

  it('rejects an unknown encoding_format', () => {
    expect(json(post('/v1/embeddings', { model: 'e', input: 'x', encoding_format: 'hex' })).status).toBe(400);
  });
});

describe('models and unknown routes', () => {
  it('lists models', () => {
    const { body } = json(handleMockRequest('GET', '/v1/models', undefined, opts));
    expect(body.object).toBe('list');
    expect(body.data[0]).toEqual({ id: 'gpt-4o', object: 'model', created: expect.any(Number), owned_by: 'system' });
    expect(json(handleMockRequest('GET', '/v1/models/gpt-4o', undefined, opts)).body.id).toBe('gpt-4o');
    expect(json(handleMockRequest('GET', '/v1/models/nope', undefined, opts)).body.error.code).toBe('model_not_found');
  });

  it('answers unknown paths and methods with an OpenAI 404', () => {
    const { status, body } = json(handleMockRequest('POST', '/v1/nothing?x=1', {}, opts));
    expect(status).toBe(404);
    expect(body).toEqual({ error: { message: 'Invalid URL (POST /v1/nothing)', type: 'invalid_request_error', param: null, code: null } });
    expect(json(handleMockRequest('GET', '/v1/chat/completions', undefined, opts)).status).toBe(404);
  });
});

describe('anthropic messages', () => {
  const body = { model: 'claude-sonnet-4-20250514', max_tokens: 100, messages, mock_output_tokens: 4 };

  it('answers with a message object', () => {
    const { body: res, reply } = json(post('/v1/messages', body));
    expect(reply.headers['request-id']).toMatch(/^req_/);
    expect(Object.keys(res)).toEqual(['id', 'type', 'role', 'model', 'content', 'stop_reason', 'stop_sequence', 'usage']);
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
    expect(data[8]).toEqual({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 4 } });
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
      type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null },
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

describe('responses', () => {
  it('answers with a response object, incomplete when max_output_tokens cuts it', () => {
    const body = { model: 'gpt-4.1', input: 'Hi', mock_output_tokens: 20 };
    const { body: res } = json(post('/v1/responses', body));
    expect(res).toMatchObject({ object: 'response', status: 'completed', incomplete_details: null, model: 'gpt-4.1' });
    expect(res.id).toMatch(/^resp_/);
    expect(res.output[0]).toMatchObject({ type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', annotations: [] }] });
    const input = estimateInput('responses', body, 'gpt-4.1').exact();
    expect(res.usage).toEqual({ input_tokens: input, input_tokens_details: { cached_tokens: 0 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: input + 20 });
    const cut = json(post('/v1/responses', { ...body, max_output_tokens: 16 })).body;
    expect(cut).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { output_tokens: 16 } });
  });

  it('refuses output caps below 16, as the real API does', () => {
    const { status, body } = json(post('/v1/responses', { model: 'gpt-4.1', input: 'Hi', max_output_tokens: 5 }));
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ param: 'max_output_tokens', code: 'integer_below_min_value' });
  });

  it('streams typed events with increasing sequence numbers, ending in response.completed', () => {
    const { events } = sse(post('/v1/responses', { model: 'gpt-4.1', input: 'Hi', stream: true, mock_output_tokens: 3 }));
    const data = events.map((e) => JSON.parse(e.data));
    expect(data.map((d) => d.sequence_number)).toEqual(data.map((_, i) => i));
    expect(events.map((e) => e.event)).toEqual([
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.delta', 'response.output_text.delta', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
    ]);
    expect(data.at(-1).response.usage.output_tokens).toBe(3);
  });
});

describe('misbehaving upstreams', () => {
  it('mock_ignore_max_tokens streams past max_tokens', () => {
    const { events } = sse(post('/v1/messages', { model: 'claude', max_tokens: 2, messages, stream: true, mock_output_tokens: 6, mock_ignore_max_tokens: true }));
    expect(events.filter((e) => e.event === 'content_block_delta')).toHaveLength(6);
    expect(JSON.parse(events.find((e) => e.event === 'message_delta')!.data).delta.stop_reason).toBe('end_turn');
  });

  it('mock_error_event_after_chunks ends the stream with the API\'s in-stream error', () => {
    const anthropic = sse(post('/v1/messages', { model: 'claude', max_tokens: 10, messages, stream: true, mock_error_event_after_chunks: 3 })).events;
    expect(anthropic.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'ping', 'error']);
    expect(JSON.parse(anthropic[3].data)).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const openai = sse(post('/v1/chat/completions', { model: 'm', messages, stream: true, mock_error_event_after_chunks: 2 })).events;
    expect(openai).toHaveLength(3);
    expect(JSON.parse(openai[2].data).error.type).toBe('server_error');
  });
});
