// Limits seen from the client: clamping, 429s the SDK understands, and windows rolling over (injected clock).
import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { useBehindMock } from './helpers/use-test-gateway.js';

const NOON = Date.UTC(2026, 10, 21, 12);

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 1000 }, (url) => `
providers: {up: {type: openai, base_url: "${url}/v1"}}
projects:
  tiny: {daily_limit: 300}
  tiny2: {daily_limit: 300}
users:
  tier_slow: {rate_limit: 2}
routes:
  r:
    chat_models: [{model_id: m, model: up/gpt-4o}]
keys:
  - {id: carol, key: tg-carol, user: carol, project: tiny}
  - {id: dave, key: tg-dave, user: dave, tier: tier_slow}
  - {id: erin, key: tg-erin, user: erin, project: tiny2}
`, NOON);

const ask = [{ role: 'user' as const, content: 'Hello there, gateway!' }];

describe('a daily project budget', () => {
  it('lowers the default allowance of a call without max_tokens to the room left, and says so', async () => {
    const erin = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-erin', maxRetries: 0 });
    upstream().clearRequests();
    const res = await erin.chat.completions.create({ model: 'm', messages: ask }).withResponse();
    const room = 300 - res.data.usage!.prompt_tokens;
    expect((upstream().requests()[0].body as { max_tokens: number }).max_tokens).toBe(room);
    expect(res.response.headers.get('x-tollgate-clamped-max-tokens')).toBe(String(room));
    expect(gw().calls[gw().calls.length - 1].decision).toBe('clamped');
  });

  it('clamps max_tokens to the room left, then refuses with a 429 the SDK does not retry', async () => {
    const carol = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-carol', maxRetries: 2 });
    const first = await carol.chat.completions.create({ model: 'm', messages: ask, max_tokens: 200 }).withResponse();
    const input = first.data.usage!.prompt_tokens;
    expect(first.data.usage!.completion_tokens).toBe(200);
    expect(first.response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(300 - input - 200));

    upstream().clearRequests();
    const second = await carol.chat.completions.create({ model: 'm', messages: ask, max_tokens: 200 }).withResponse();
    const room = 300 - input - 200 - input;
    expect(second.response.headers.get('x-tollgate-clamped-max-tokens')).toBe(String(room));
    expect((upstream().requests()[0].body as { max_tokens: number }).max_tokens).toBe(room);
    expect(second.data.choices[0].finish_reason).toBe('length');

    const blockedBefore = gw().calls.filter((c) => c.decision === 'blocked').length;
    const err = await carol.chat.completions.create({ model: 'm', messages: ask, max_tokens: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.type).toBe('tokens');
    expect(err.message).toContain("Project 'tiny' daily limit reached: 300 of 300 tokens used, 0 left");
    expect(err.message).toContain('2026-11-22T00:00:00.000Z');
    expect(err.headers.get('retry-after')).toBe(String(12 * 3600));
    expect(err.headers.get('x-should-retry')).toBe('false');
    expect(err.headers.get('x-tollgate-limit')).toBe('project:tiny:daily');
    expect(err.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    expect(err.headers.get('x-ratelimit-reset-tokens')).toBe('12h0m0s');
    // maxRetries is 2, but x-should-retry: false means exactly one attempt reached the gateway.
    expect(gw().calls.filter((c) => c.decision === 'blocked').length - blockedBefore).toBe(1);

    gw().clock.set(Date.UTC(2026, 10, 22, 0, 0, 0));
    const nextDay = await carol.chat.completions.create({ model: 'm', messages: ask, max_tokens: 200 });
    expect(nextDay.usage!.completion_tokens).toBe(200);
    gw().clock.set(NOON);
  });
});

describe('a tier rate limit (requests per minute)', () => {
  it('admits rate_limit requests per minute and reports the request headers', async () => {
    const dave = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-dave', maxRetries: 0 });
    gw().clock.set(NOON + 3_600_000);
    const a = await dave.chat.completions.create({ model: 'm', messages: ask, max_tokens: 5 }).withResponse();
    expect(a.response.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(a.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    await dave.chat.completions.create({ model: 'm', messages: ask, max_tokens: 5 });
    const err = await dave.chat.completions.create({ model: 'm', messages: ask, max_tokens: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.type).toBe('requests');
    expect(err.headers.get('x-tollgate-limit')).toBe('user:dave:rate');
    // Both requests sit in one 3 s slot (the clock is on a slot edge), counted for 21 slots: room in 63 s.
    expect(err.headers.get('retry-after')).toBe('63');
    expect(err.message).toContain('It resets in 1m 3s');
    // A per-minute limit always has room again within about a minute, so the SDK may retry it.
    expect(err.headers.get('x-should-retry')).toBeNull();
    gw().clock.advance(64_000);
    const again = await dave.chat.completions.create({ model: 'm', messages: ask, max_tokens: 5 }).withResponse();
    expect(again.data.object).toBe('chat.completion');
    expect(again.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
  });
});
