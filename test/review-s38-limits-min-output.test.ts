// enforcement.min_output_tokens with several choices. docs/configuration.md: a clamp never goes below it
// for any choice; less room is a 429. The clamp is sent upstream as each choice's max_tokens, so the floor
// is min_output_tokens × choices. It was applied to the call's whole output (found by a gateway-level QA
// pass, session 38): min_output_tokens 10, room for 20 output tokens, each of 3 choices got max_tokens 6
// (3 legacy prompts with room for 15, 5 each).
import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 1000 }, (url) => `
providers: {up: {type: openai, base_url: "${url}/v1"}}
enforcement: {min_output_tokens: 10}
projects:
  small: {daily_limit: 100}
  roomy: {daily_limit: 50}
  legacy: {daily_limit: 100}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}, {model_id: davinci, model: up/davinci-002}]
keys:
  - {id: small, key: tg-small, project: small}
  - {id: roomy, key: tg-roomy, project: roomy}
  - {id: legacy, key: tg-legacy, project: legacy}
`);

const client = (key: string): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'hi' }];

describe('min_output_tokens is a floor for each choice', () => {
  it('n = 3 with room for fewer than 3 × 10 output tokens: a 429, nothing sent upstream (was 200, max_tokens 6 each)', async () => {
    const first = await client('tg-small').chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 100 - 8 - 28 });
    // 28 left: the next call's 8 input tokens leave 20 for output, above min_output_tokens, below 3 × 10.
    expect(100 - first.usage!.total_tokens).toBe(28);
    upstream().clearRequests();
    const err = await client('tg-small').chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 100, n: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(upstream().requests()).toHaveLength(0);
  });

  it('n = 3 with room for more: each choice is clamped to its share, at least 10', async () => {
    upstream().clearRequests();
    const { data, response } = await client('tg-roomy').chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 100, n: 3 }).withResponse();
    const sent = upstream().requests().at(-1)!.body as { max_tokens: number; n: number };
    expect(sent.n).toBe(3);
    expect(sent.max_tokens).toBe(Math.floor((50 - data.usage!.prompt_tokens) / 3));
    expect(sent.max_tokens).toBeGreaterThanOrEqual(10);
    expect(Number(response.headers.get('x-tollgate-clamped-max-tokens'))).toBe(sent.max_tokens);
  });

  it('legacy completions with 3 prompts and room for fewer than 3 × 10: a 429 (was 200, max_tokens 5 each)', async () => {
    const first = await client('tg-legacy').completions.create({ model: 'davinci', prompt: 'a', max_tokens: 100 - 1 - 16 });
    expect(100 - first.usage!.total_tokens).toBe(16); // 3 prompts of 1 token leave 13: 4 each, or 5 with the 1 kept per choice
    upstream().clearRequests();
    const err = await client('tg-legacy').completions.create({ model: 'davinci', prompt: ['a', 'b', 'c'], max_tokens: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(upstream().requests()).toHaveLength(0);
  });
});
