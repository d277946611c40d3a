// Regression tests from an audit: a clamp must never grant less output than the upstream can be held to
// (n choices × 1 token; the Responses API's floor of 16 on an answer that cannot be cut), a
// non-streamed answer is settled with its own top-level usage, whatever `usage` key comes after it, and
// the SDKs do not retry a provider refusing the gateway's own key.
import { beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { useBehindMock } from './helpers/use-test-gateway.js';

const OUTPUT_MAX = 100;

const config = (url: string): string => `
server: {timezone: UTC}
providers:
  openai: {type: openai, base_url: "${url}/v1", api_key: sk-current}
  stale: {type: openai, base_url: "${url}/v1", api_key: sk-revoked}
projects:
  p: {daily_limit: 10000000}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: openai/gpt-4o}
      - {model_id: gpt-3.5-turbo-instruct, model: openai/gpt-3.5-turbo-instruct}
      - {model_id: stale-4o, model: stale/gpt-4o}
    token_limiting:
      scope: user
      output: {algorithm: fixed_window, window_size: 1 day, max_token: ${OUTPUT_MAX}}
keys:
  - {id: k1, key: tg-k1, project: p}
  - {id: k2, key: tg-k2, project: p}
  - {id: k3, key: tg-k3, project: p}
  - {id: k4, key: tg-k4, project: p}
  - {id: k5, key: tg-k5, project: p}
  - {id: k6, key: tg-k6, project: p}
`;

const client = (key: string): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'hi' }];
const sent = (): Record<string, unknown> => upstream().requests().at(-1)!.body as Record<string, unknown>;

/** The key's output counter (the route's per-key output limit). */
async function outputUsed(keyId: string): Promise<number> {
  const call = gw().calls.find((c) => c.principal.keyId === keyId)!;
  const limits = gw().gateway.engine.applicable.for(call.principal, call.target);
  const states = await gw().store.peek(limits.map((l) => l.item));
  return states[limits.findIndex((l) => l.id === `route:main:key:${keyId}:output`)].used;
}

/** Spends `tokens` of the key's output limit with a plain call. */
async function spend(key: string, tokens: number): Promise<void> {
  await client(key).chat.completions.create({ model: 'gpt-4o', messages, max_tokens: tokens, ...({ mock_output_tokens: tokens } as object) });
}

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 20, apiKey: 'sk-current' }, config);
beforeEach(() => upstream().clearRequests());

describe('a clamp with several choices', () => {
  it('chat n=5 with 2 tokens of room left: a 429, not max_tokens 1 × 5 choices past the limit', async () => {
    await spend('tg-k1', OUTPUT_MAX - 2);
    const err = await client('tg-k1').chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 10, n: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(await outputUsed('k1')).toBeLessThanOrEqual(OUTPUT_MAX);
  });

  it('chat n=5 with 7 tokens of room: clamped to one token per choice, within the limit, and the header says 1', async () => {
    await spend('tg-k2', OUTPUT_MAX - 7);
    const { data, response } = await client('tg-k2').chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 10, n: 5 }).withResponse();
    // The header gives max_tokens as sent (per choice), as the client wrote it: 10 lowered to 1, not 7.
    expect(response.headers.get('x-tollgate-clamped-max-tokens')).toBe('1');
    expect(sent().max_tokens).toBe(1);
    expect(data.usage!.completion_tokens).toBe(5);
    expect(await outputUsed('k2')).toBe(OUTPUT_MAX - 2);
  });

  it('legacy completions, 2 prompts × best_of 3 with 4 tokens of room: a 429, never 6 tokens', async () => {
    await spend('tg-k3', OUTPUT_MAX - 4);
    const err = await client('tg-k3')
      .completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: ['a', 'b'], max_tokens: 10, best_of: 3, n: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(await outputUsed('k3')).toBeLessThanOrEqual(OUTPUT_MAX);
  });
});

describe("the Responses API's floor of 16 output tokens", () => {
  it('a non-streamed call with 5 tokens of room is refused, not sent with max_output_tokens 16', async () => {
    await spend('tg-k4', OUTPUT_MAX - 5);
    const err = await client('tg-k4').responses.create({ model: 'gpt-4o', input: 'hi', max_output_tokens: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(await outputUsed('k4')).toBeLessThanOrEqual(OUTPUT_MAX);
  });

  it('a streamed call with 5 tokens of room is admitted and cut at 5', async () => {
    await spend('tg-k5', OUTPUT_MAX - 5);
    const stream = client('tg-k5').responses.stream({ model: 'gpt-4o', input: 'hi', max_output_tokens: 100 });
    const final = await stream.finalResponse();
    expect(final.status).toBe('incomplete');
    expect(await outputUsed('k5')).toBe(OUTPUT_MAX);
  });
});

describe('usage of a non-streamed answer', () => {
  it("is the body's own, even when the caller's metadata (echoed after it) has a 'usage' key", async () => {
    const res = await client('tg-k6').responses.create({ model: 'gpt-4o', input: 'hi', max_output_tokens: 50, metadata: { usage: 'x' } });
    expect(res.metadata).toEqual({ usage: 'x' });
    expect(gw().calls.at(-1)!.usage).toMatchObject({ source: 'provider', input: res.usage!.input_tokens, output: res.usage!.output_tokens });
  });
});

describe("the provider refusing the gateway's key", () => {
  it('is a 502 the SDK does not retry: no retry can succeed until the key is fixed', async () => {
    const sdk = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k6', maxRetries: 2 });
    const err = (await sdk.chat.completions.create({ model: 'stale-4o', messages, max_tokens: 5 }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(upstream().requests()).toHaveLength(1);
    // Recorded (ledger row, metrics) with the status the caller got, not the provider's 401.
    expect(gw().calls.at(-1)).toMatchObject({ status: 502, decision: 'failed', usage: { input: 0, output: 0 } });
  });
});
