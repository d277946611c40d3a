// Stored context on /v1/responses (previous_response_id, conversation, item_reference): billed as input
// by the provider, invisible in the body. Regression test from an audit: reserved from the body alone,
// ten concurrent follow-ups on a 50,000-token conversation were all admitted against a 5,000-token
// project limit, which ended at 500,010.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { StoredContext } from '../src/proxy/stored-context.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const ALLOWANCE = 1000;
const LIMIT = 5000;

const { gw } = useBehindMock({ latencyMs: 0, outputTokens: 20 }, (url) => `
enforcement: {clamp_max_tokens: false, stored_context_tokens: ${ALLOWANCE}}
providers: {openai: {type: openai, base_url: "${url}/v1"}}
projects:
  big: {daily_limit: 1000000}
  small: {daily_limit: ${LIMIT}}
  tiny: {daily_limit: 800}
routes: {r: {chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1}]}}
keys: [{id: a, key: tg-a, project: big}, {id: s, key: tg-s, project: small}, {id: t, key: tg-t, project: tiny}]
`);

const client = (key = 'tg-a') => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
const callOf = (id: string) => gw().calls.find((c) => c.requestId === id)!;

describe('stored context on /v1/responses', () => {
  it('reserves what the earlier turn left behind (its input plus output) for a follow-up, streamed or not', async () => {
    const first = await client().responses.create({ model: 'gpt-4.1', input: 'Tell me a story.', max_output_tokens: 50 });
    const carried = first.usage!.input_tokens + first.usage!.output_tokens;
    const plain = await client().responses.create({ model: 'gpt-4.1', input: 'Go on.', max_output_tokens: 50 }).withResponse();
    const followUp = await client().responses.create({ model: 'gpt-4.1', previous_response_id: first.id, input: 'Go on.', max_output_tokens: 50 }).withResponse();
    const reservedPlain = callOf(plain.request_id!).reserved.input;
    expect(callOf(followUp.request_id!).reserved.input).toBe(reservedPlain + carried);

    // A streamed turn is remembered too, under the id of its response.created event.
    const streamed = await client().responses.stream({ model: 'gpt-4.1', input: 'Tell me another.', max_output_tokens: 50 }).finalResponse();
    const next = await client().responses.create({ model: 'gpt-4.1', previous_response_id: streamed.id, input: 'Go on.', max_output_tokens: 50 }).withResponse();
    expect(callOf(next.request_id!).reserved.input).toBe(reservedPlain + streamed.usage!.input_tokens + streamed.usage!.output_tokens);
  });

  it('reserves enforcement.stored_context_tokens for context it did not see created', async () => {
    const plain = await client().responses.create({ model: 'gpt-4.1', input: 'Go on.', max_output_tokens: 50 }).withResponse();
    const unknown = await client().responses.create({ model: 'gpt-4.1', previous_response_id: 'resp_made_elsewhere', input: 'Go on.', max_output_tokens: 50 }).withResponse();
    // Past a few hundred tokens the engine reserves the prompt's cheap upper bound, a few tokens over its exact count.
    const reserved = callOf(unknown.request_id!).reserved.input - callOf(plain.request_id!).reserved.input;
    expect(reserved).toBeGreaterThanOrEqual(ALLOWANCE);
    expect(reserved).toBeLessThan(ALLOWANCE + 20);
  });

  it('unseen context never makes a call that fits an empty window a permanent 400: the allowance shrinks to fit', async () => {
    // 800 a day: 1,000 of stored context would never fit (a 400 the SDKs do not retry, for every follow-up).
    const res = await client('tg-t').responses.create({ model: 'gpt-4.1', previous_response_id: 'resp_after_a_restart', input: 'Go on.', max_output_tokens: 100 }).withResponse();
    const reserved = callOf(res.request_id!).reserved;
    expect(reserved.input + reserved.output).toBeLessThanOrEqual(800);
    expect(reserved.input).toBeGreaterThan(600); // still as much of the window as the call can take
  });

  it('concurrent follow-ups on unseen context are admitted only as far as the limit has room for them', async () => {
    // Each call runs 2 s upstream, so all ten are in flight together: with 300 ms, on a loaded CI host (four
    // workers, 12-07), the first ones settled before the last arrived and gave their unused room back (7 admitted).
    const ask = () =>
      client('tg-s')
        .responses.create({ model: 'gpt-4.1', previous_response_id: 'resp_unseen', input: 'Go on.', max_output_tokens: 100, ...({ mock_latency_ms: 2000 } as object) })
        .then(() => 'ok' as const, (err: unknown) => (err instanceof OpenAI.RateLimitError ? ('refused' as const) : Promise.reject(err)));
    const results = await Promise.all(Array.from({ length: 10 }, ask));
    // Each reserves 1,000 of stored context + its prompt + 100 of output: four fit in 5,000 at once.
    expect(results.filter((r) => r === 'ok')).toHaveLength(4);
    expect(results.filter((r) => r === 'refused')).toHaveLength(6);
  });
});

describe('StoredContext', () => {
  const usage = (input: number, output: number) => ({ input, output, cachedInput: 0, source: 'provider' as const });

  it('knows responses and conversations it saw, and charges the allowance once for item references', () => {
    const ctx = new StoredContext();
    ctx.record({ conversation: { id: 'conv_1' } }, 'resp_1', usage(300, 40));
    expect(ctx.tokensFor({ previous_response_id: 'resp_1' }, () => 1000)).toBe(340);
    expect(ctx.tokensFor({ conversation: 'conv_1' }, () => 1000)).toBe(340);
    expect(ctx.tokensFor({ conversation: 'conv_2' }, () => 1000)).toBe(1000);
    expect(ctx.tokensFor({ input: [{ type: 'item_reference', id: 'a' }, { type: 'item_reference', id: 'b' }] }, () => 1000)).toBe(1000);
    expect(ctx.tokensFor({ input: 'hello' }, () => 1000)).toBe(0);
  });

  it('takes a response’s recorded size only when it did not see it, and a conversation’s recorded size first', () => {
    const ctx = new StoredContext();
    ctx.record({ conversation: 'conv_1' }, 'resp_1', usage(300, 40));
    // Items added through the Conversations API grow only the record: it is the newer word on a conversation.
    expect(ctx.tokensFor({ conversation: 'conv_1' }, () => 1000, { conversation: 900 })).toBe(900);
    expect(ctx.tokensFor({ previous_response_id: 'resp_1' }, () => 1000, { previous: 900 })).toBe(340);
    expect(ctx.tokensFor({ previous_response_id: 'resp_2' }, () => 1000, { previous: 900 })).toBe(900);
    expect(ctx.tokensFor({ previous_response_id: 'resp_2', conversation: 'conv_2' }, () => 1000, { previous: 5, conversation: 7 })).toBe(12);
  });

  it('forgets the least recently recorded first, beyond its size', () => {
    const ctx = new StoredContext(2);
    ctx.record({}, 'resp_a', usage(1, 1));
    ctx.record({}, 'resp_b', usage(2, 2));
    ctx.record({}, 'resp_a', usage(3, 3)); // recorded again: now the newest
    ctx.record({}, 'resp_c', usage(4, 4));
    expect(ctx.tokensFor({ previous_response_id: 'resp_b' }, () => 99)).toBe(99);
    expect(ctx.tokensFor({ previous_response_id: 'resp_a' }, () => 99)).toBe(6);
  });
});
