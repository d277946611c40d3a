// Every error the gateway answers itself, as the official SDKs take it: the error class (chosen by status),
// the request id they expose (`x-request-id` / `request-id`), the fields they read from the body, the message
// a developer sees, and how many attempts their default retries make (x-should-retry, retry-after).
import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 5, apiKey: 'sk-up' }, (url) => `
server: {timezone: UTC, max_body_bytes: 4000}
enforcement: {clamp_max_tokens: false}
providers:
  gpt: {type: openai, base_url: "${url}/v1", api_key: sk-up}
  claude: {type: anthropic, base_url: "${url}", api_key: sk-up}
  gone: {type: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-up}
  gonec: {type: anthropic, base_url: "http://127.0.0.1:9", api_key: sk-up}
projects:
  p: {daily_limit: 1000000}
  tiny-o: {daily_limit: 300}
  tiny-a: {daily_limit: 300}
routes:
  r:
    chat_models:
      - {model_id: gpt-4o, model: gpt/gpt-4o}
      - {model_id: claude, model: claude/claude-sonnet-4-5}
      - {model_id: dead, model: gone/gpt-4o}
      - {model_id: deadc, model: gonec/claude-sonnet-4-5}
keys:
  - {id: k, key: tg-k, project: p}
  - {id: to, key: tg-tiny-o, project: tiny-o}
  - {id: ta, key: tg-tiny-a, project: tiny-a}
`);

/** A fetch that counts the attempts the SDK makes (its retries included). */
function counting(): { fetch: typeof fetch; attempts: () => number } {
  let n = 0;
  return { fetch: (input, init) => ((n += 1), fetch(input, init)), attempts: () => n };
}
const ask = [{ role: 'user' as const, content: 'hi' }];
// The SDKs' own backoff between retries is 0.5 s and 1 s: short enough for a test, and it is what is checked.
const openai = (key: string, f: typeof fetch): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 2, fetch: f });
const anthropic = (key: string, f: typeof fetch): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: key, maxRetries: 2, fetch: f });
const caught = (p: Promise<unknown>): Promise<unknown> => p.then(() => expect.fail('expected an error'), (e: unknown) => e);

describe('the OpenAI SDK', () => {
  const cases: Array<[string, string, object, Function, number, object]> = [
    ['an unknown key', 'tg-nobody', { model: 'gpt-4o' }, OpenAI.AuthenticationError, 401, { code: 'invalid_api_key', type: 'invalid_request_error', param: null }],
    ['an unknown model', 'tg-k', { model: 'nope' }, OpenAI.NotFoundError, 404, { code: 'model_not_found', type: 'invalid_request_error' }],
    ['a field of the wrong type', 'tg-k', { model: 'gpt-4o', max_tokens: 'ten' }, OpenAI.BadRequestError, 400, { code: 'invalid_request', param: 'max_tokens' }],
    ['a body over the limit', 'tg-k', { model: 'gpt-4o', metadata: { pad: 'x'.repeat(5000) } }, OpenAI.APIError, 413, { code: 'body_too_large', type: 'invalid_request_error' }],
    ['a limit that resets tomorrow', 'tg-tiny-o', { model: 'gpt-4o', max_tokens: 270 }, OpenAI.RateLimitError, 429, { code: 'rate_limit_exceeded', type: 'tokens', param: null }],
  ];
  for (const [what, key, body, cls, status, fields] of cases) {
    it(`takes ${what} as a ${cls.name} (${status}), once, with the gateway's request id`, async () => {
      if (status === 429) for (let i = 0; i < 2; i++) await openai(key, fetch).chat.completions.create({ model: 'gpt-4o', max_tokens: 5, messages: ask });
      const c = counting();
      const err = (await caught(openai(key, c.fetch).chat.completions.create({ messages: ask, ...body } as never))) as InstanceType<typeof OpenAI.APIError>;
      expect(err).toBeInstanceOf(cls);
      expect(err.status).toBe(status);
      expect(err).toMatchObject(fields);
      expect(err.requestID).toMatch(/^req_/);
      expect(err.headers?.get('x-tollgate-request-id')).toBe(err.requestID);
      // The message is the status and the gateway's words, not a JSON dump.
      expect(err.message).toBe(`${status} ${(err.error as { message: string }).message}`);
      expect(c.attempts()).toBe(1);
    });
  }

  it('retries an unreachable provider (502), which charged nothing, and gets an InternalServerError', async () => {
    const c = counting();
    const err = (await caught(openai('tg-k', c.fetch).chat.completions.create({ model: 'dead', messages: ask }))) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err).toMatchObject({ status: 502, code: 'upstream_error', type: 'upstream_error' });
    expect(c.attempts()).toBe(3);
  });

  it('takes an unknown path as a NotFoundError', async () => {
    const err = (await caught(openai('tg-k', fetch).get('/nowhere'))) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ status: 404, code: 'not_found' });
  });
});

describe('the Anthropic SDK', () => {
  const cases: Array<[string, string, object, Function, number, string]> = [
    ['an unknown key', 'tg-nobody', { model: 'claude' }, Anthropic.AuthenticationError, 401, 'authentication_error'],
    ['an unknown model', 'tg-k', { model: 'nope' }, Anthropic.NotFoundError, 404, 'not_found_error'],
    ['a field of the wrong type', 'tg-k', { model: 'claude', max_tokens: 'ten' }, Anthropic.BadRequestError, 400, 'invalid_request_error'],
    ['a body over the limit', 'tg-k', { model: 'claude', metadata: { user_id: 'x'.repeat(5000) } }, Anthropic.ContentTooLargeError, 413, 'request_too_large'],
    ['a limit that resets tomorrow', 'tg-tiny-a', { model: 'claude', max_tokens: 270 }, Anthropic.RateLimitError, 429, 'rate_limit_error'],
  ];
  for (const [what, key, body, cls, status, type] of cases) {
    it(`takes ${what} as a ${cls.name} (${status} ${type}), once, with one request id in header and body`, async () => {
      // Two calls use enough of the day's 300 tokens that 270 more do not fit what is left, though they fit a whole day.
      if (status === 429) for (let i = 0; i < 2; i++) await anthropic(key, fetch).messages.create({ model: 'claude', max_tokens: 5, messages: ask });
      const c = counting();
      const err = (await caught(anthropic(key, c.fetch).messages.create({ max_tokens: 10, messages: ask, ...body } as never))) as InstanceType<typeof Anthropic.APIError>;
      expect(err).toBeInstanceOf(cls);
      expect(err.status).toBe(status);
      expect(err.type).toBe(type);
      expect(err.error).toEqual({ type: 'error', error: { type, message: expect.any(String) }, request_id: err.requestID });
      expect(err.requestID).toMatch(/^req_/);
      expect(err.apiMessage).toBe((err.error as { error: { message: string } }).error.message);
      expect(err.message).toBe(`${status} ${err.apiMessage} (request_id: ${err.requestID}, path: /v1/messages, type: ${type})`);
      expect(c.attempts()).toBe(1);
    });
  }

  it('retries an unreachable provider (502 api_error), which charged nothing, and gets an InternalServerError', async () => {
    const c = counting();
    const err = (await caught(anthropic('tg-k', c.fetch).messages.create({ model: 'deadc', max_tokens: 10, messages: ask }))) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect(err).toMatchObject({ status: 502, type: 'api_error' });
    expect(c.attempts()).toBe(3);
  });

  it('takes an unknown path, and an unknown model on /v1/models, as NotFoundErrors in its own format', async () => {
    const path = (await caught(anthropic('tg-k', fetch).get('/v1/nowhere'))) as InstanceType<typeof Anthropic.APIError>;
    expect(path).toBeInstanceOf(Anthropic.NotFoundError);
    expect(path).toMatchObject({ status: 404, type: 'not_found_error' });
    const model = (await caught(anthropic('tg-k', fetch).models.retrieve('gpt-5'))) as InstanceType<typeof Anthropic.APIError>;
    expect(model).toMatchObject({ status: 404, type: 'not_found_error' });
    expect(upstream().requests().filter((r) => r.path.includes('nowhere'))).toHaveLength(0);
  });
});
