import { describe, expect, it } from 'vitest';
import { isReasoningModel } from '../../proxy/request-shape.js';
import { refusesMaxTokens } from './max-tokens-refusal.js';

const error = (e: object): Buffer => Buffer.from(JSON.stringify({ error: e }));

describe('refusesMaxTokens', () => {
  it("reads OpenAI's refusal by its param and code, or by a message naming both fields", () => {
    const openai = { message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", type: 'invalid_request_error', param: 'max_tokens', code: 'unsupported_parameter' };
    expect(refusesMaxTokens(400, error(openai))).toBe(true);
    expect(refusesMaxTokens(400, error({ message: openai.message, param: null, code: null }))).toBe(true);
  });

  it('is not fooled by other 400s on max_tokens, other statuses, or bodies that are not an OpenAI error', () => {
    expect(refusesMaxTokens(400, error({ message: "Invalid 'max_tokens': integer below minimum value.", param: 'max_tokens', code: 'integer_below_min_value' }))).toBe(false);
    expect(refusesMaxTokens(500, error({ message: "'max_tokens' ... use 'max_completion_tokens'", param: 'max_tokens', code: 'unsupported_parameter' }))).toBe(false);
    expect(refusesMaxTokens(400, Buffer.from('max_tokens max_completion_tokens'))).toBe(false);
  });
});

describe('isReasoningModel', () => {
  it('knows OpenAI reasoning models by name, also behind a router prefix, and learnt ones by the provider', () => {
    expect(['o3', 'o4-mini', 'gpt-5', 'gpt-5.1-mini', 'openai/o3'].map((m) => isReasoningModel(m))).toEqual([true, true, true, true, true]);
    expect(['gpt-4o', 'llama-3-o1x', 'my-reasoner'].map((m) => isReasoningModel(m))).toEqual([false, false, false]);
    expect(isReasoningModel('my-reasoner', { takesCompletionTokens: (m) => m === 'my-reasoner' })).toBe(true);
  });
});
