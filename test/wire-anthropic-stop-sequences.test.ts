// `stop_sequences` with the official SDKs: the mock upstream ignored them (every answer ran to its end with
// `stop_reason: "end_turn"`, `stop_sequence: null`), so neither the native relay nor the OpenAI `stop` →
// Anthropic `stop_sequences` translation was exercised on a stopped answer. The mock now stops as Anthropic
// does, and the gateway is held to relay the stop and meter the shorter answer at the provider's count.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

// The mock's answer is "the model will stream one token at each step ..." (one word a token).
const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 12, apiKey: 'sk-up' }, (url) => `
providers: {claude: {type: anthropic, base_url: "${url}", api_key: sk-up}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: claude, model: claude/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-k, project: p}]
`);

const anthropic = (): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: 'tg-k', maxRetries: 0 });
const openai = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'Tell me about the gate.' }];
const textOf = (m: Anthropic.Message): string => m.content.map((b) => (b.type === 'text' ? b.text : '')).join('');

describe('stop_sequences on /v1/messages', () => {
  it('end the answer before the sequence, named in stop_sequence, metered at what was generated', async () => {
    const answer = await anthropic().messages.create({ model: 'claude', max_tokens: 50, messages, stop_sequences: ['nothing like this', ' stream'] });
    expect(answer.stop_reason).toBe('stop_sequence');
    expect(answer.stop_sequence).toBe(' stream');
    expect(textOf(answer)).toBe('the model will');
    // Three words and the stop sequence's token.
    expect(answer.usage.output_tokens).toBe(4);
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, usage: { output: 4, source: 'provider' } });
    expect((upstream().requests().at(-1)!.body as { stop_sequences?: unknown }).stop_sequences).toEqual(['nothing like this', ' stream']);
  });

  it('do the same streamed', async () => {
    const final = await anthropic().messages.stream({ model: 'claude', max_tokens: 50, messages, stop_sequences: [' at each'] }).finalMessage();
    expect(final.stop_reason).toBe('stop_sequence');
    expect(final.stop_sequence).toBe(' at each');
    expect(textOf(final)).toBe('the model will stream one token');
    expect(final.usage.output_tokens).toBe(8);
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, stream: true, usage: { output: 8 } });
  });

  it('change nothing when the answer never reaches one', async () => {
    const answer = await anthropic().messages.create({ model: 'claude', max_tokens: 50, messages, stop_sequences: ['zebra'] });
    expect(answer.stop_reason).toBe('end_turn');
    expect(answer.stop_sequence).toBeNull();
    expect(answer.usage.output_tokens).toBe(12);
  });
});

describe('OpenAI `stop` on an Anthropic model', () => {
  it('goes up as stop_sequences and comes back as finish_reason `stop`, streamed or not', async () => {
    const answer = await openai().chat.completions.create({ model: 'claude', max_tokens: 50, messages, stop: [' stream'] });
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    expect(answer.choices[0]!.message.content).toBe('the model will');
    expect(answer.usage?.completion_tokens).toBe(4);
    expect((upstream().requests().at(-1)!.body as { stop_sequences?: unknown }).stop_sequences).toEqual([' stream']);
    const stream = await openai().chat.completions.create({ model: 'claude', max_tokens: 50, messages, stop: ' stream', stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect([text, finish, usage?.completion_tokens]).toEqual(['the model will', 'stop', 4]);
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, usage: { output: 4 } });
  });
});
