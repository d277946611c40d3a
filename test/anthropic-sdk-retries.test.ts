// How the Anthropic SDK's own retries (two by default) meet the gateway's refusals: a hard limit that
// cannot reset soon is refused once (x-should-retry: false), not three times; bad count_tokens requests
// get Anthropic's error body with the request id, which the SDK does not retry either.
import { beforeEach, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 5, apiKey: 'sk-up' }, (url) => `
server: {timezone: UTC}
enforcement: {clamp_max_tokens: false}
providers:
  claude: {type: anthropic, base_url: "${url}", api_key: sk-up}
projects:
  tiny: {daily_limit: 200}
routes:
  r:
    chat_models: [{model_id: claude-x, model: claude/claude-x}]
keys:
  - {id: k, key: tg-k, user: u, project: tiny}
`);
beforeEach(() => upstream().clearRequests());

// The SDK's defaults: two retries.
const client = (): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: 'tg-k' });
const messages = [{ role: 'user' as const, content: 'Hello' }];

describe('the SDK with its default retries', () => {
  it('is refused once by a daily limit, which no retry within the day can meet', async () => {
    await client().messages.create({ model: 'claude-x', max_tokens: 100, messages });
    upstream().clearRequests();
    const before = gw().calls.length;
    // Fits the day's 200 tokens, but not what the first call left of them.
    const err = await client().messages.create({ model: 'claude-x', max_tokens: 180, messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.headers?.get('x-should-retry')).toBe('false');
    expect(e.error).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: expect.stringContaining("Project 'tiny' daily limit") }, request_id: e.requestID });
    // One refusal recorded, not three; nothing reached the provider.
    expect(gw().calls.slice(before).map((c) => [c.status, c.decision])).toEqual([[429, 'blocked']]);
    expect(upstream().requests()).toHaveLength(0);
  });

  it('gets count_tokens mistakes as a BadRequestError naming the field and the request, once', async () => {
    const err = await client()
      .messages.countTokens({ model: 'claude-x', messages: 'Hello' as unknown as typeof messages })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const e = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(e.error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/^messages: /) }, request_id: e.requestID });
    expect(e.requestID).toMatch(/^req_/);
    expect(upstream().requests()).toHaveLength(0);
  });
});
