import { describe, expect, it } from 'vitest';
import type { Provider } from '../providers/provider.js';
import { planExchange } from './exchange.js';
import type { JsonObject } from './request-shape.js';

const openai = { name: 'up', supports: (e: string) => e !== 'messages' && e !== 'count_tokens' } as unknown as Provider;
const plan = (endpoint: 'chat' | 'completions' | 'responses' | 'embeddings', body: JsonObject) =>
  planExchange({ endpoint, body, upstreamModel: 'gpt-4o-2024-08-06', provider: openai, model: 'gpt-4o', headers: {} });
const messages = [{ role: 'user', content: 'hi' }];

describe('the native OpenAI exchange', () => {
  it('reserves the output of every choice and sends the per-choice share of a lowered allowance', () => {
    const x = plan('chat', { model: 'gpt-4o', messages, n: 3, max_tokens: 100 });
    const { forEach, ...allowance } = x.allowance(4096);
    expect(allowance).toMatchObject({ output: 300, fromClient: true, least: 3 });
    expect(allowance.wording).toEqual({ field: 'max_tokens', least: { why: 'one token for each of its 3 choices', fix: 'ask for fewer choices (n)' } });
    expect(forEach!(10)).toBe(30); // min_output_tokens is each choice's floor
    expect(x.upstreamBody(300)).toMatchObject({ model: 'gpt-4o-2024-08-06', n: 3, max_tokens: 100 });
    expect(x.upstreamBody(150).max_tokens).toBe(50);
    expect(plan('chat', { model: 'gpt-4o', messages, n: 2 }).allowance(1000)).toMatchObject({ output: 2000, fromClient: false, least: 2 });
    const legacy = plan('completions', { model: 'gpt-4o', prompt: ['a', 'b'], n: 2, best_of: 3, max_tokens: 10 }).allowance(0);
    expect(legacy.output).toBe(60);
    expect(legacy.forEach!(10)).toBe(60);
  });

  it('reserves a prediction as output besides the cap, which goes upstream as the client set it (or as lowered)', () => {
    const prediction = { type: 'content', content: [{ type: 'text', text: 'one two three four' }, { type: 'text', text: ' five' }] };
    const x = plan('chat', { model: 'gpt-4o-2024-08-06', messages, max_completion_tokens: 100, prediction });
    // "one two three four five": five tokens in o200k.
    expect(x.allowance(4096)).toMatchObject({ output: 105, fromClient: true, least: 6 });
    expect(x.allowance(4096).forEach!(10)).toBe(15); // the prediction's 5 on top of the one choice's floor
    expect(x.unchanged(105)).toBe(true);
    expect(x.upstreamBody(105).max_completion_tokens).toBe(100);
    expect(x.upstreamBody(55).max_completion_tokens).toBe(50);
    expect(x.perChoice!(55)).toBe(50);
    expect(plan('chat', { model: 'gpt-4o', messages, prediction: { type: 'content', content: 'one two' } }).allowance(1000).output).toBe(1002);
  });

  it('asks for the usage chunk on chat and completions streams only', () => {
    expect(plan('chat', { model: 'gpt-4o', messages, stream: true, stream_options: { include_obfuscation: false } }).upstreamBody(10).stream_options).toEqual({ include_obfuscation: false, include_usage: true });
    expect(plan('responses', { model: 'gpt-4o', input: 'hi', stream: true }).upstreamBody(10).stream_options).toBeUndefined();
    expect(plan('chat', { model: 'gpt-4o', messages }).upstreamBody(10).stream_options).toBeUndefined();
  });

  it('adds no stream_options for a provider that refuses them, and says when it added them itself', () => {
    const refusing = { ...openai, supports: openai.supports, streamUsage: false } as Provider;
    const planOn = (provider: Provider, body: JsonObject) => planExchange({ endpoint: 'chat', body, upstreamModel: 'gpt-4o', provider, model: 'gpt-4o', headers: {} });
    expect(planOn(refusing, { model: 'gpt-4o', messages, stream: true }).upstreamBody(10).stream_options).toBeUndefined();
    // The client's own go as the client sent them.
    expect(planOn(refusing, { model: 'gpt-4o', messages, stream: true, stream_options: { include_obfuscation: false } }).upstreamBody(10).stream_options).toEqual({ include_obfuscation: false });
    expect(planOn(refusing, { model: 'gpt-4o', messages, stream: true }).streamOptionsAdded).toBe(false);
    expect(planOn(openai, { model: 'gpt-4o', messages, stream: true }).streamOptionsAdded).toBe(true);
    expect(planOn(openai, { model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } }).streamOptionsAdded).toBe(false);
    expect(planOn(openai, { model: 'gpt-4o', messages }).streamOptionsAdded).toBe(false);
  });

  it('uses max_output_tokens on the Responses API, never below its minimum of 16', () => {
    const x = plan('responses', { model: 'gpt-4o', input: 'hi', max_output_tokens: 500 });
    expect(x.allowance(4096)).toMatchObject({ output: 500, fromClient: true, least: 16 });
    expect(x.upstreamBody(500)).toEqual({ model: 'gpt-4o-2024-08-06', input: 'hi', max_output_tokens: 500 });
    expect(x.upstreamBody(100).max_output_tokens).toBe(100);
    expect(x.upstreamBody(5).max_output_tokens).toBe(16);
    expect(plan('responses', { model: 'gpt-4o', input: 'hi' }).upstreamBody(700)).toMatchObject({ max_output_tokens: 700 });
  });

  it('reserves no output for embeddings and sends them untouched', () => {
    const x = plan('embeddings', { model: 'text-embedding-3-small', input: 'hi' });
    expect(x.allowance(4096)).toEqual({ output: 0, fromClient: true });
    expect(x.upstreamBody(0)).toEqual({ model: 'gpt-4o-2024-08-06', input: 'hi' });
  });

  it('refuses endpoints the provider does not serve', () => {
    expect(() => plan('chat', { model: 'gpt-4o', messages }).upstream).not.toThrow();
    const anthropic = { name: 'claude', supports: (e: string) => e === 'messages' || e === 'count_tokens' } as unknown as Provider;
    expect(() => planExchange({ endpoint: 'embeddings', body: { model: 'c', input: 'x' }, upstreamModel: 'c', provider: anthropic, model: 'c', headers: {} })).toThrow(/has no \/v1\/embeddings endpoint/);
  });
});
