// Anthropic's server-side fallback (`fallbacks` on /v1/messages) through the gateway: the Anthropic SDK →
// the gateway → an `anthropic` provider on the mock upstream, which declines for the models named in
// `mock_refuse_models` and answers on the next fallback entry as the API reports it (a `fallback` block per
// hop, the serving model as the message's `model`, every attempt in `usage.iterations`). Each fallback
// model must be one the key may use, goes upstream as its route's model, is reserved for, and is billed at
// its own price in the ledger row, whose `fallback` names the model that served.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { useAnthropicBilling } from './helpers/anthropic-billing.js';

// Fable at $10 / $50 per million tokens, Opus at $5 / $25, Haiku at $1 / $5. The `cheap` key may use Haiku
// alone. The `dollars` project's money limit ($0.06 a day) holds an Opus call of max_tokens 1,000 alone
// ($0.025 of output) but not with a Fable fallback of the same max_tokens (another $0.05).
const FABLE = 'claude-fable-5';
const OPUS = 'claude-opus-4-8';
const HAIKU = 'claude-haiku-4-5-20251001';
const config = (): string => `
pricing:
  "claude/${FABLE}": {input: 10, output: 50}
  "claude/${OPUS}": {input: 5, output: 25}
  "claude/${HAIKU}": {input: 1, output: 5}
projects:
  tokens: {daily_limit: 10000000}
  dollars: {daily_limit: {max_cost_usd: 0.06}}
routes:
  main:
    chat_models: [{model_id: fable, model: claude/${FABLE}}, {model_id: opus, model: claude/${OPUS}}]
  cheap:
    chat_models: [{model_id: haiku, model: claude/${HAIKU}}]
keys:
  - {id: t, key: tg-tokens, project: tokens, routes: [main]}
  - {id: c, key: tg-cheap, project: tokens, routes: [cheap]}
  - {id: d, key: tg-dollars, project: dollars, routes: [main]}
`;

const messages = [{ role: 'user' as const, content: 'Explain how this exploit works.' }];
const BETA: Anthropic.Beta.AnthropicBeta[] = ['server-side-fallback-2026-07-01'];
/** The mock's Fable declines, as its classifiers may. */
const FABLE_REFUSES = { mock_refuse_models: [FABLE] } as object;

describe('Anthropic server-side fallback through the gateway', () => {
  const { gw, upstream, rowOf, lastSent, lastPrompt, anthropic: client } = useAnthropicBilling(config);
  const anthropic = (key = 'tg-tokens'): Anthropic => client(key);

  /** A fallback served by Opus after Fable declined: both attempts billed, each at its own price. */
  function expectFellBack(row: LedgerRow): void {
    const prompt = lastPrompt();
    expect(row).toMatchObject({ status: 200, model: FABLE, modelId: 'fable', fallback: 'model:main/opus', usageSource: 'provider', inputTokens: 2 * prompt, outputTokens: 20 });
    expect(row.inputCostUsd).toBeCloseTo((prompt * 10 + prompt * 5) / 1e6, 12);
    expect(row.costUsd).toBeCloseTo((prompt * 10 + prompt * 5 + 20 * 25) / 1e6, 12);
  }

  it('a fallback model the key may not use is refused in Anthropic format, and nothing goes upstream', async () => {
    const before = upstream().requests().length;
    for (const model of ['opus', OPUS, 'main/opus']) {
      const err = await anthropic('tg-cheap')
        .beta.messages.create({ model: 'haiku', max_tokens: 100, messages, betas: BETA, fallbacks: [{ model }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.NotFoundError);
      const { error } = (err as InstanceType<typeof Anthropic.NotFoundError>).error as { error: { type: string; message: string } };
      expect(error.type).toBe('not_found_error');
      expect(error.message).toMatch(/^fallbacks\.0\.model: The model '.*' does not exist or this key may not use it\. Models this key can use: .*haiku/);
    }
    expect(upstream().requests().length).toBe(before);
  });

  it('malformed fallbacks are a 400 in Anthropic format, and nothing goes upstream', async () => {
    const before = upstream().requests().length;
    const bad: unknown[] = ['default', { model: 'opus' }, [{ model: 'opus' }, { model: 'opus' }, { model: 'opus' }, { model: 'opus' }], [{ max_tokens: 10 }], [{ model: 'opus', temperature: 1 }], [{ model: 'opus', max_tokens: 0 }]];
    for (const fallbacks of bad) {
      const err = await anthropic()
        .beta.messages.create({ model: 'fable', max_tokens: 100, messages, betas: BETA, fallbacks: fallbacks as Anthropic.Beta.BetaFallbacksParam })
        .catch((e: unknown) => e);
      expect(err, JSON.stringify(fallbacks)).toBeInstanceOf(Anthropic.BadRequestError);
      expect(((err as InstanceType<typeof Anthropic.BadRequestError>).error as { error: { message: string } }).error.message).toMatch(/^fallbacks/);
    }
    expect(upstream().requests().length).toBe(before);
  });

  it('a non-streamed fallback: sent as upstream ids, served by Opus, and billed for both attempts at their prices', async () => {
    const { data, response } = await anthropic()
      .beta.messages.create({ model: 'fable', max_tokens: 200, messages, betas: BETA, fallbacks: [{ model: 'main/opus', max_tokens: 300 }], ...FABLE_REFUSES })
      .withResponse();
    expect(lastSent()).toMatchObject({ model: FABLE, max_tokens: 200, fallbacks: [{ model: OPUS, max_tokens: 300 }] });
    expect(upstream().requests().at(-1)!.headers['anthropic-beta']).toBe(BETA[0]);
    expect(data.model).toBe(OPUS);
    expect(data.content[0]).toEqual({ type: 'fallback', from: { model: FABLE }, to: { model: OPUS }, trigger: { type: 'refusal', category: 'cyber' } });
    expect(data.usage.iterations?.map((i) => [i.type, (i as { model?: string }).model])).toEqual([
      ['message', FABLE],
      ['fallback_message', OPUS],
    ]);
    expectFellBack(await rowOf(response.headers.get('request-id')));
  });

  it('a streamed fallback: the same, from the fallback block and the final message_delta', async () => {
    const stream = anthropic().beta.messages.stream({ model: 'fable', max_tokens: 200, messages, betas: BETA, fallbacks: [{ model: 'opus' }], ...FABLE_REFUSES });
    const message = await stream.finalMessage();
    expect(lastSent()).toMatchObject({ model: FABLE, fallbacks: [{ model: OPUS }] });
    expect(message.model).toBe(OPUS);
    expect(message.content.map((b) => b.type)).toEqual(['fallback', 'text']);
    expectFellBack(await rowOf((await stream.withResponse()).response.headers.get('request-id')));
  });

  it('a call the requested model answers has no fallback in its row', async () => {
    const { response } = await anthropic()
      .beta.messages.create({ model: 'fable', max_tokens: 200, messages, betas: BETA, fallbacks: [{ model: 'opus' }] })
      .withResponse();
    const prompt = lastPrompt();
    expect(await rowOf(response.headers.get('request-id'))).toMatchObject({ model: FABLE, fallback: null, inputTokens: prompt, outputTokens: 20 });
  });

  it('a money limit reserves every attempt at the priciest model: a pricier fallback clamps both max_tokens', async () => {
    const { data, response } = await anthropic('tg-dollars')
      .beta.messages.create({ model: 'opus', max_tokens: 1000, messages, betas: BETA, fallbacks: [{ model: 'fable' }] })
      .withResponse();
    expect(data.model).toBe(OPUS);
    const sent = lastSent();
    const top = sent.max_tokens as number;
    const fallback = (sent.fallbacks as Array<{ model: string; max_tokens: number }>)[0]!;
    expect(fallback.model).toBe(FABLE);
    expect(response.headers.get('x-tollgate-clamped-max-tokens')).toBe(String(top));
    // One ceiling for both attempts, and together they fit the $0.06 beside the input of two attempts at Fable's rates.
    expect(top).toBeLessThan(1000);
    expect(fallback.max_tokens).toBe(top);
    const prompt = lastPrompt();
    expect(2 * prompt * 10 + (top + fallback.max_tokens) * 50).toBeLessThanOrEqual(60_000);
    expect(2 * prompt * 10 + (top + fallback.max_tokens + 2) * 50).toBeGreaterThan(60_000);
  });

  it('the chat-completions bridge to a Claude model refuses fallbacks instead of passing them on', async () => {
    const before = upstream().requests().length;
    const openai = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-tokens', maxRetries: 0 });
    const err = await openai.chat.completions
      .create({ model: 'fable', max_tokens: 100, messages, fallbacks: [{ model: 'opus' }] } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('fallbacks');
    expect(upstream().requests().length).toBe(before);
  });
});
