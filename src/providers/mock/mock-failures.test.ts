// Failures the mock acts out on request: error statuses in each provider's format, and streams that
// misbehave (past max_tokens, cut by an in-stream error).
import { describe, expect, it } from 'vitest';
import { json, messages, post, sse } from './test-fixtures.js';

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
