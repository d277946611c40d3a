// GPT-5.6 writes the prompt cache on its own (an implicit breakpoint on every request, no cache key needed)
// and bills each written token at 1.25x input. A money limit reserved a 5.6 call's input at the plain input
// rate; settled at what OpenAI bills, 40 calls at once, each writing its ~1,100-token prompt, counted more
// than the limit. The reservation now takes the cache-write rate for the input of any OpenAI call that may
// write (all but `prompt_cache_options.mode: "explicit"` without a `prompt_cache_breakpoint`), where the
// model's price has one. The mock upstream reports the writes as OpenAI does.
import { describe, expect, it } from 'vitest';
import { PriceBook } from '../src/ledger/price-book.js';
import { reserveFactors, type PriceHints } from '../src/limits/price-factors.js';
import { mayWritePromptCache } from '../src/providers/openai/prompt-cache.js';
import { burst, expectWritesWithinLimit } from './helpers/money-burst.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

const LIMIT = 0.05;
const config = (ledgerUrl: string): string => `
storage: {ledger: "${ledgerUrl}"}
server: {timezone: UTC}
providers: {openai: {type: mock, latency_ms: 30, output_tokens: 10}}
pricing:
  "openai/gpt-5.6-sol": {input: 5, output: 30}
projects:
  chat: {daily_limit: {max_cost_usd: ${LIMIT}}}
  responses: {daily_limit: {max_cost_usd: ${LIMIT}}}
  streamed: {daily_limit: {max_cost_usd: ${LIMIT}}}
  explicit: {daily_limit: {max_cost_usd: ${LIMIT}}}
  unreported: {daily_limit: {max_cost_usd: ${LIMIT}}}
routes:
  r:
    chat_models: [{model_id: sol, model: openai/gpt-5.6-sol}]
keys:
  - {id: chat, key: tg-chat, project: chat}
  - {id: responses, key: tg-responses, project: responses}
  - {id: streamed, key: tg-streamed, project: streamed}
  - {id: explicit, key: tg-explicit, project: explicit}
  - {id: unreported, key: tg-unreported, project: unreported}
`;

/** A prompt over the 1,024 tokens OpenAI caches from: the mock writes all of it, as a first call does. */
const PROMPT = 'Reconcile the ledger against the bank statement, line by line. '.repeat(100);

describe('GPT-5.6 cache writes against a money limit, 40 calls at once', () => {
  const gw = useUsageGateway(config);

  it('chat completions: the calls admitted are billed no more than the limit, the counter equal to the ledger', async () => {
    const r = await burst(gw(), 'tg-chat', '/v1/chat/completions', { model: 'sol', messages: [{ role: 'user', content: PROMPT }], max_completion_tokens: 10 });
    expectWritesWithinLimit(r, LIMIT);
    expect(r.ok).toBeLessThan(40);
    expect(r.counter).toBeLessThanOrEqual(LIMIT + 1e-12);
    expect(r.drift).toBe(0);
  });

  it('Responses, JSON and streamed: the same', async () => {
    for (const [key, stream] of [['tg-responses', false], ['tg-streamed', true]] as const) {
      const r = await burst(gw(), key, '/v1/responses', { model: 'sol', input: PROMPT, max_output_tokens: 16, stream });
      expectWritesWithinLimit(r, LIMIT);
      expect(r.drift).toBe(0);
    }
  });

  it('without the provider\'s usage: its prompt counted as written, still within the limit', async () => {
    const r = await burst(gw(), 'tg-unreported', '/v1/chat/completions', { model: 'sol', messages: [{ role: 'user', content: PROMPT }], max_completion_tokens: 10, mock_omit_usage: true });
    expectWritesWithinLimit(r, LIMIT);
    expect(r.drift).toBe(0);
  });

  it('a request that turns caching off (explicit mode, no breakpoint) writes nothing and is reserved at the input rate', async () => {
    const r = await burst(gw(), 'tg-explicit', '/v1/chat/completions', { model: 'sol', messages: [{ role: 'user', content: PROMPT }], max_completion_tokens: 10, prompt_cache_options: { mode: 'explicit' } });
    expect(r.ok).toBeGreaterThan(0);
    expect(r.writes).toBe(0);
    expect(r.ledger).toBeLessThanOrEqual(LIMIT + 1e-12);
    expect(r.counter).toBeCloseTo(r.ledger, 12);
    expect(r.drift).toBe(0);
  });
});

describe('what a GPT-5.6 call is reserved at', () => {
  const book = new PriceBook(new Map([['azure/gpt-5.6-terra', { input: 1.6, output: 9.6 }], ['vllm/llama', { input: 0.1, output: 0.2 }]]));
  const hints = (body: Record<string, unknown>): PriceHints => ({ promptCacheWrite: mayWritePromptCache(body) });
  const plain = { model: 'm', input: 'Hi' };

  it('its input at the cache-write rate (1.25x), whether or not it sends a prompt_cache_key', () => {
    expect(reserveFactors(book, 'openai', 'gpt-5.6-sol', hints(plain), 1_000)).toEqual({ input: 1.25, output: 1 });
    expect(reserveFactors(book, 'openai', 'gpt-5.6-luna', hints({ ...plain, prompt_cache_key: 'k' }), 1_000)).toEqual({ input: 1.25, output: 1 });
    expect(reserveFactors(book, 'azure', 'gpt-5.6-terra', hints(plain), 1_000)).toEqual({ input: 1.25, output: 1 });
    // Past the 272K line every rate doubles (output 1.5x): writes at 2.5x the standard input price.
    expect(reserveFactors(book, 'openai', 'gpt-5.6-sol', hints(plain), 272_001)).toEqual({ input: 2.5, output: 1.5 });
  });

  it('at the input rate when it turns caching off, or marks a breakpoint in explicit mode (then at the write rate)', () => {
    const off = { ...plain, prompt_cache_options: { mode: 'explicit' } };
    expect(reserveFactors(book, 'openai', 'gpt-5.6-sol', hints(off), 1_000)).toEqual({ input: 1, output: 1 });
    const marked = { ...off, input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hi', prompt_cache_breakpoint: { mode: 'explicit' } }] }] };
    expect(reserveFactors(book, 'openai', 'gpt-5.6-sol', hints(marked), 1_000)).toEqual({ input: 1.25, output: 1 });
  });

  it('older OpenAI models and prices without a write rate of their own stay at the input rate', () => {
    expect(reserveFactors(book, 'openai', 'gpt-5.5', hints(plain), 1_000)).toEqual({ input: 1, output: 1 });
    expect(reserveFactors(book, 'vllm', 'llama', hints(plain), 1_000)).toEqual({ input: 1, output: 1 });
  });
});
