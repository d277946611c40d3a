// The mock's /v1/chat/completions: bodies and streams in OpenAI's wire order, and the mock_* controls that steer them.
import { describe, expect, it } from 'vitest';
import { estimateInput } from '../../tokens/index.js';
import type { MockJsonReply, MockSseReply } from './index.js';
import { json, messages, post, sse } from './test-fixtures.js';

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
