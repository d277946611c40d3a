// count_tokens answered a `model` of the wrong type (`"model": 5`) with "model: Field required.", as if the
// field were missing: a developer looks for a field they did send. Anthropic's words (the mock upstream
// follows them) are "model: Input should be a valid string" for the wrong type, "Field required" for none.
// /v1/messages answered both in OpenAI's words ("'model' is required and must be a non-empty string.").
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 5, apiKey: 'sk-up' }, (url) => `
providers: {claude: {type: anthropic, base_url: "${url}", api_key: sk-up}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: claude, model: claude/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-k, project: p}]
`);
const messages = [{ role: 'user' as const, content: 'hi' }];

async function refusal(body: object, endpoint: 'countTokens' | 'create' = 'countTokens'): Promise<InstanceType<typeof Anthropic.APIError>> {
  const client = new Anthropic({ baseURL: gw().url, apiKey: 'tg-k', maxRetries: 0 });
  const call = endpoint === 'create' ? client.messages.create({ messages, max_tokens: 10, ...body } as never) : client.messages.countTokens({ messages, ...body } as never);
  return (await (call as Promise<unknown>).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
}

describe('count_tokens with a bad model field', () => {
  it('says the model is not a string when it is a number', async () => {
    const err = await refusal({ model: 5 });
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'model: Input should be a valid string.' }, request_id: err.requestID });
  });

  it('says it is required when it is missing', async () => {
    const err = await refusal({});
    expect((err.error as { error: { message: string } }).error.message).toBe('model: Field required.');
    expect(upstream().requests()).toHaveLength(0);
  });
});

describe('/v1/messages with a bad model field', () => {
  it('answers in the words count_tokens and Anthropic use, and sends nothing upstream', async () => {
    const wrongType = await refusal({ model: 5 }, 'create');
    expect(wrongType).toBeInstanceOf(Anthropic.BadRequestError);
    expect(wrongType.error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'model: Input should be a valid string.' }, request_id: wrongType.requestID });
    for (const missing of [{}, { model: '' }, { model: null }]) {
      const err = await refusal(missing, 'create');
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err.error as { error: { message: string } }).error.message).toBe('model: Field required.');
    }
    expect(upstream().requests()).toHaveLength(0);
  });
});
