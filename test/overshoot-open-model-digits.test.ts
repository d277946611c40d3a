// Open models are estimated as ⌈1.5 × cl100k⌉ (docs/tokens.md). cl100k puts up to three digits in one token;
// Qwen's tokenizer ("number segmentation by single digits"), Gemma's and the 32k SentencePiece ones (Llama 2,
// Mistral 7B) give every digit its own. A prompt of numbers (a CSV, a log, a JSON array of readings) is then
// billed up to twice the estimate: 80 concurrent calls of 400 digits to a Qwen model on a vLLM server were
// each reserved 259 input tokens and billed 420, and an input limit of 20,000 ended at 32,340. The estimate
// of such families now counts each numeral's bytes on top of the rest of the text's estimate (streamed output
// alike, delta by delta, to the count of the whole text).
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { countTextTokens } from '../src/tokens/index.js';
import { StreamTokenCounter } from '../src/tokens/stream-counter.js';
import { mulberry32 } from '../src/util/prng.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

// Short enough to be counted exactly at once (the cheap byte bound, a token per byte, is used first on long prompts).
const DIGITS = '8675309142'.repeat(40);
/** What a Qwen server bills for one message of `DIGITS`: a token per digit, plus its chat template's. */
const BILLED = DIGITS.length + 20;
const INPUT_MAX = 20_000;

// A vLLM server of a Qwen model: a token per digit, as its tokenizer counts them.
const { gw } = useBehindWireUpstream((_req, res, raw) => {
  const body = JSON.parse(raw) as { model: string; messages: Array<{ content: string }> };
  const digits = body.messages.reduce((n, m) => n + (m.content.match(/\d/g)?.length ?? 0), 0);
  setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'cmpl-q', object: 'chat.completion', created: 1760000000, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: 'Sum noted.' }, finish_reason: 'stop' }], usage: { prompt_tokens: digits + 20, completion_tokens: 3, total_tokens: digits + 23 } }));
  }, 300);
}, (url) => `
providers:
  vllm: {type: openai, base_url: "${url}"}
projects: {p: {daily_limit: 10000000}}
routes:
  r:
    chat_models: [{model_id: qwen, model: vllm/Qwen/Qwen2.5-7B-Instruct}]
    token_limiting:
      input: {algorithm: sliding_window, window_size: 1 hour, max_token: ${INPUT_MAX}}
keys: [{id: k, key: tg-k, project: p}]
`);

describe('digit-heavy prompts to an open model that splits every digit', () => {
  it('are estimated at no less than a token per digit', () => {
    expect(countTextTokens(DIGITS, 'Qwen/Qwen2.5-7B-Instruct')).toBeGreaterThanOrEqual(DIGITS.length);
    expect(countTextTokens(`Readings: ${DIGITS.slice(0, 40)} and 7 more.`, 'google/gemma-3-27b-it')).toBeGreaterThanOrEqual(42);
  });

  it('keep a route input limit when a burst of them is admitted at once', async () => {
    const client = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
    const results = await Promise.allSettled(Array.from({ length: 80 }, () => client.chat.completions.create({ model: 'qwen', messages: [{ role: 'user', content: DIGITS }], max_tokens: 10 })));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    expect(ok).toBeGreaterThan(0);
    const call = gw().calls.find((c) => c.decision === 'admitted')!;
    expect(call.usage.input).toBe(BILLED);
    expect(call.reserved.input).toBeGreaterThanOrEqual(BILLED);
    const limits = gw().gateway.engine.applicable.for(call.principal, call.target).filter((l) => l.id.endsWith(':input'));
    const [state] = await gw().store.peek(limits.map((l) => l.item));
    // Was 32,340: 77 of the 80 admitted on 259 tokens each, billed 420.
    expect(state.used).toBe(ok * BILLED);
    expect(state.used).toBeLessThanOrEqual(INPUT_MAX);
  });
});

describe('streamed output of such a model', () => {
  const ATOMS = ['1', '12', '123', '4567', '٣', '²', '½', '𝟙', ' ', '\n', 'x', 'the', ' model', '.', ',', '3.14', '日本', '🎉', "'re"];
  it('is counted delta by delta exactly as the whole text, digit runs split across deltas included', () => {
    const rand = mulberry32(0xd161);
    for (const model of ['Qwen/Qwen2.5-7B-Instruct', 'mistral-7b-instruct']) {
      for (let round = 0; round < 100; round++) {
        let text = '';
        for (let i = 0, n = 1 + Math.floor(rand() * 200); i < n; i++) text += ATOMS[Math.floor(rand() * ATOMS.length)];
        const counter = new StreamTokenCounter(model);
        const chars = Array.from(text);
        for (let i = 0; i < chars.length; ) {
          const part = chars.slice(i, (i += 1 + Math.floor(rand() * 5))).join('');
          const ahead = counter.countWith(part);
          expect(counter.boundWith(part)).toBeGreaterThanOrEqual(ahead);
          counter.add(part);
          expect(counter.count()).toBe(ahead);
        }
        expect(counter.count(), JSON.stringify(text)).toBe(countTextTokens(text, model));
      }
    }
  });
});
