// The mock's /v1/responses: the response object, its output cap, and its typed event stream.
import { describe, expect, it } from 'vitest';
import { estimateInput } from '../../tokens/index.js';
import { json, post, sse } from './test-fixtures.js';

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
