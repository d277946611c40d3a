// Extended thinking under a clamp: Anthropic requires 1024 <= thinking.budget_tokens < max_tokens, so when
// a limit lowers max_tokens below the client's budget the budget must come down too, and room for less
// than 1025 tokens is a 429 rather than a request the provider refuses. The official SDKs against a
// gateway in front of the mock upstream (which checks thinking budgets as Anthropic does).
import { beforeEach, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { useBehindMock } from './helpers/use-test-gateway.js';

const MODEL = 'claude-sonnet-4-5';

// Each key has its own output window of 2,000 tokens an hour (scope: user).
const config = (url: string): string => `
server: {timezone: UTC}
providers:
  claude: {type: anthropic, base_url: "${url}"}
projects:
  p: {daily_limit: 10000000}
routes:
  claude:
    chat_models:
      - {model_id: claude, model: claude/${MODEL}}
    token_limiting:
      scope: user
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 2000}
keys:
  - {id: a, key: tg-a, project: p}
  - {id: b, key: tg-b, project: p}
  - {id: c, key: tg-c, project: p}
  - {id: d, key: tg-d, project: p}
  - {id: e, key: tg-e, project: p}
`;

const anthropic = (key: string): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: key, maxRetries: 0 });
const ask = [{ role: 'user' as const, content: 'Think about the gateway.' }];
const thinking = (budget: number) => ({ type: 'enabled' as const, budget_tokens: budget });
const sent = () => upstream().requests().filter((r) => r.path === '/v1/messages');

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 10 }, config);
beforeEach(() => upstream().clearRequests());

describe('extended thinking when a limit lowers max_tokens', () => {
  it('lowers the thinking budget below the clamped max_tokens, so the call succeeds', async () => {
    const { data, response } = await anthropic('tg-a')
      .messages.create({ model: 'claude', max_tokens: 4000, thinking: thinking(3000), messages: ask })
      .withResponse();
    expect(data.type).toBe('message');
    expect(response.headers.get('x-tollgate-clamped-max-tokens')).toBe('2000');
    expect(sent()[0].body).toMatchObject({ max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1999 } });
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('does the same for a stream', async () => {
    const message = await anthropic('tg-b').messages.stream({ model: 'claude', max_tokens: 8000, thinking: thinking(6000), messages: ask }).finalMessage();
    expect(message.stop_reason).toBe('end_turn');
    expect(sent()[0].body).toMatchObject({ max_tokens: 2000, stream: true, thinking: { budget_tokens: 1999 } });
  });

  it('refuses with a 429 when the room left cannot hold the least thinking budget (1024) and an answer', async () => {
    // 1,500 of the key's 2,000 output tokens are used: 500 left, less than 1,025.
    await anthropic('tg-c').messages.create({ model: 'claude', max_tokens: 1500, messages: ask, ...({ mock_output_tokens: 1500 } as object) });
    upstream().clearRequests();
    const err = await anthropic('tg-c')
      .messages.create({ model: 'claude', max_tokens: 4000, thinking: thinking(2048), messages: ask })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(sent()).toHaveLength(0);
    // Without thinking the same room is still granted as a clamp.
    const { response } = await anthropic('tg-c').messages.create({ model: 'claude', max_tokens: 4000, messages: ask }).withResponse();
    expect(response.headers.get('x-tollgate-clamped-max-tokens')).toBe('500');
  });

  it("leaves the client's body alone when nothing is clamped, and a budget invalid as sent goes as sent", async () => {
    await anthropic('tg-d').messages.create({ model: 'claude', max_tokens: 1500, thinking: thinking(1024), messages: ask });
    expect(sent()[0].body).toMatchObject({ max_tokens: 1500, thinking: { budget_tokens: 1024 } });
    const err = await anthropic('tg-d')
      .messages.create({ model: 'claude', max_tokens: 300, thinking: thinking(1024), messages: ask })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(sent()[1].body).toMatchObject({ max_tokens: 300, thinking: { budget_tokens: 1024 } });
  });

  it('keeps thinking sent as an extra field valid for an OpenAI client of the Claude model', async () => {
    const openai = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-e', maxRetries: 0 });
    const { data, response } = await openai.chat.completions
      .create({ model: 'claude', max_tokens: 4000, messages: ask, ...({ thinking: thinking(3000) } as object) })
      .withResponse();
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(response.headers.get('x-tollgate-clamped-max-tokens')).toBe('2000');
    expect(sent()[0].body).toMatchObject({ max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1999 } });
  });
});
