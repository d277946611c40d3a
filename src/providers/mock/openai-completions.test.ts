// The mock's legacy /v1/completions.
import { describe, expect, it } from 'vitest';
import { estimateInput } from '../../tokens/index.js';
import { json, post, sse } from './test-fixtures.js';

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
