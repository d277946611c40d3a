// Streams of models whose tokens the gateway can only estimate (Claude, open models) reaching their own
// max_tokens. Regression tests from an audit: the relay cut them where its conservative estimate passed
// the allowance, 50-70% of the way (142 of 200 deltas for Claude, 100 of 200 for Mixtral), told the
// client `max_tokens`/`length`, and settled with the estimate instead of the provider's count. Now the
// frames past the estimate are held back until the provider's final count releases them.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { countTextTokens } from '../src/tokens/index.js';
import { type TestGateway } from './helpers/in-process.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const CLAUDE = 'claude-sonnet-4-5-20250929';
const MIXTRAL = 'mixtral-8x7b-instruct';
const MAX = 200;

// The mock streams one token per delta and stops at max_tokens, as the real APIs do.
const { gw } = useBehindMock({ latencyMs: 0, outputTokens: 1000 }, (url) => `
providers:
  open: {type: openai, base_url: "${url}/v1"}
  claude: {type: anthropic, base_url: "${url}"}
projects: {p: {daily_limit: 10000000}}
routes:
  r:
    chat_models:
      - {model_id: claude, model: claude/${CLAUDE}}
      - {model_id: mixtral, model: open/${MIXTRAL}}
keys: [{id: a, key: tg-a, project: p}]
`);

const ask = [{ role: 'user' as const, content: 'Write a long story.' }];
const lastCall = (): TestGateway['calls'][number] => gw().calls[gw().calls.length - 1];

describe('a stream that reaches its own max_tokens, metered by an estimate', () => {
  it('Anthropic messages: every delta arrives, with the provider\'s stop reason and usage', async () => {
    const anthropic = new Anthropic({ baseURL: gw().url, apiKey: 'tg-a', maxRetries: 0 });
    const stream = anthropic.messages.stream({ model: 'claude', max_tokens: MAX, messages: ask });
    let deltas = 0;
    stream.on('text', () => deltas++);
    const message = await stream.finalMessage();
    expect(deltas).toBe(MAX);
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.usage.output_tokens).toBe(MAX);
    // The estimate of what was delivered is well past the allowance: the provider's count decided.
    expect(countTextTokens(message.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), CLAUDE)).toBeGreaterThan(MAX);
    expect(lastCall()).toMatchObject({ status: 200, streamEnd: 'complete', usage: { source: 'provider', output: MAX } });
  });

  it('OpenAI chat on a Claude model and on an open model: every delta, the provider\'s finish and usage', async () => {
    const openai = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-a', maxRetries: 0 });
    for (const model of ['claude', 'mixtral']) {
      const done = await openai.chat.completions.stream({ model, max_tokens: MAX, messages: ask, stream_options: { include_usage: true } }).finalChatCompletion();
      expect(done.choices[0].finish_reason, model).toBe('length');
      expect(done.usage?.completion_tokens, model).toBe(MAX);
      expect(lastCall(), model).toMatchObject({ status: 200, streamEnd: 'complete', usage: { source: 'provider', output: MAX } });
      // Every delta: the text is the mock's MAX one-token words.
      expect(done.choices[0].message.content!.trim().split(/\s+/), model).toHaveLength(MAX);
    }
  });

  it('a large allowance: the held part fits (12,000 tokens of an open model, half of them held)', async () => {
    const openai = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-a', maxRetries: 0 });
    const big = 12_000;
    const done = await openai.chat.completions.stream({ model: 'mixtral', max_tokens: big, messages: ask, stream_options: { include_usage: true }, ...({ mock_output_tokens: big } as object) }).finalChatCompletion();
    expect(done.usage?.completion_tokens).toBe(big);
    expect(done.choices[0].message.content!.trim().split(/\s+/)).toHaveLength(big);
    expect(lastCall()).toMatchObject({ streamEnd: 'complete', usage: { source: 'provider', output: big } });
  });

  it('Responses API on an open model: every delta, the provider\'s incomplete response and usage', async () => {
    const openai = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-a', maxRetries: 0 });
    const response = await openai.responses.stream({ model: 'mixtral', max_output_tokens: MAX, input: 'Write a long story.' }).finalResponse();
    expect(response.status).toBe('incomplete');
    expect(response.usage?.output_tokens).toBe(MAX);
    expect(response.output_text.trim().split(/\s+/)).toHaveLength(MAX);
    expect(lastCall()).toMatchObject({ status: 200, streamEnd: 'complete', usage: { source: 'provider', output: MAX } });
  });

  it('a client that leaves while frames are held is charged for them too: the provider produced them', async () => {
    const controller = new AbortController();
    const res = await fetch(`${gw().url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'tg-a', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude', max_tokens: MAX, messages: ask, stream: true, mock_chunk_delay_ms: 5 }),
      signal: controller.signal,
    });
    let text = '';
    let lastData = Date.now();
    const reader = res.body!.getReader();
    // Delivery stalls where the estimate reaches the allowance; leave once it has for 150 ms (a stall of
    // a busy machine earlier on is not that point).
    const stall = setInterval(() => countTextTokens(text, CLAUDE) >= MAX - 5 && Date.now() - lastData > 150 && controller.abort(), 20);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        lastData = Date.now();
        for (const m of new TextDecoder().decode(value).matchAll(/"text_delta","text":"((?:[^"\\]|\\.)*)"/g)) text += JSON.parse(`"${m[1]}"`);
      }
    } catch {
      // aborted
    } finally {
      clearInterval(stall);
    }
    for (let i = 0; i < 100 && lastCall()?.status !== 499; i++) await new Promise((r) => setTimeout(r, 10));
    const delivered = countTextTokens(text, CLAUDE);
    expect(delivered).toBeLessThanOrEqual(MAX);
    expect(lastCall()).toMatchObject({ status: 499, streamEnd: 'client_gone', usage: { source: 'estimated' } });
    expect(lastCall().usage.output).toBeGreaterThan(delivered);
    // But never past what the provider, told max_tokens, can have produced (the estimate runs 1.4x high).
    expect(lastCall().usage.output).toBeLessThanOrEqual(MAX);
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('a provider that fails while frames are held: the client hears of the failure, not of a clean max_tokens', async () => {
    const anthropic = new Anthropic({ baseURL: gw().url, apiKey: 'tg-a', maxRetries: 0 });
    // The error comes after ~180 deltas: past the estimate's cap (~143), before the provider's (200).
    const stream = anthropic.messages.stream({ model: 'claude', max_tokens: MAX, messages: ask, ...({ mock_error_event_after_chunks: 185 } as object) });
    let text = '';
    stream.on('text', (d) => (text += d));
    await expect(stream.finalMessage()).rejects.toThrow(/overloaded|error/i);
    const delivered = countTextTokens(text, CLAUDE);
    expect(delivered).toBeLessThanOrEqual(MAX);
    expect(lastCall()).toMatchObject({ status: 502, streamEnd: 'upstream_failed', usage: { source: 'estimated' } });
    expect(lastCall().usage.output).toBeGreaterThan(delivered); // what was held was produced...
    expect(lastCall().usage.output).toBeLessThanOrEqual(MAX); // ...up to max_tokens at most
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('without the provider\'s count, the stream ends where the estimate reached the allowance', async () => {
    const openai = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-a', maxRetries: 0 });
    const stream = await openai.chat.completions.create({ model: 'mixtral', max_tokens: MAX, messages: ask, stream: true, ...({ mock_omit_usage: true } as object) });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('length');
    const delivered = countTextTokens(text, MIXTRAL);
    expect(delivered).toBeLessThanOrEqual(MAX);
    expect(delivered).toBeGreaterThan(MAX - 10);
    expect(lastCall()).toMatchObject({ streamEnd: 'cut_at_limit', usage: { source: 'estimated', output: delivered } });
    expect(await gw().store.openReservations()).toBe(0);
  });
});
