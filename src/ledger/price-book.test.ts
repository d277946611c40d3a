import { describe, expect, it } from 'vitest';
import { listPrice, lookupPrice, type ListPrice } from './list-prices.js';
import type { Price } from '../config/policy.js';
import { PriceBook, type PricedUsage } from './price-book.js';

describe('pricing', () => {
  it('finds list prices for dated snapshots and aliases, and nothing for unknown models', () => {
    // OpenAI's models before GPT-5.6 write the prompt cache for free: their cache-write price is their input's.
    expect(listPrice('gpt-4o-2024-08-06')).toEqual({ input: 2.5, output: 10, cachedInput: 1.25, cacheWrite: 2.5 });
    expect(listPrice('claude-sonnet-4-20250514')).toMatchObject({ input: 3, output: 15, cachedInput: 0.3 });
    expect(listPrice('claude-3-5-haiku-latest')).toEqual({ input: 0.8, output: 4, cachedInput: 0.08 });
    expect(listPrice('claude-opus-4-5-20251101')?.input).toBe(5);
    expect(listPrice('claude-opus-4-1-20250805')?.input).toBe(15);
    expect(listPrice('meta-llama/Llama-3-8B')).toBeUndefined();
  });

  it('prices the service tier OpenAI reports: priority from its own list, flex at half, unknown priority at 2.5x standard', () => {
    const book = new PriceBook(new Map([['openai/gpt-4o', { input: 2, output: 8 }]]));
    const usage = { input: 1_000_000, cachedInput: 0, output: 1_000_000 };
    expect(book.cost('openai', 'gpt-4.1-2025-04-14', { ...usage, serviceTier: 'priority' })).toBeCloseTo(3.5 + 14, 9);
    expect(book.cost('openai', 'gpt-4.1', usage)).toBeCloseTo(2 + 8, 9);
    expect(book.cost('openai', 'gpt-4.1', { ...usage, serviceTier: 'flex' })).toBeCloseTo((2 + 8) / 2, 9);
    // No priority entry (gpt-5-nano): 2.5x standard (gpt-5.5's ratio, the highest listed); cached input follows.
    expect(book.cost('openai', 'gpt-5-nano', { input: 1_000_000, cachedInput: 1_000_000, output: 0, serviceTier: 'priority' })).toBeCloseTo(0.005 * 2.5, 9);
    expect(book.cost('openai', 'gpt-5.5-2026-04-23', { ...usage, serviceTier: 'priority' })).toBeCloseTo(12.5 + 75, 9);
    // A configured (contract) price keeps its discount at priority: scaled by the list's ratio (4.25 / 2.5).
    expect(book.cost('openai', 'gpt-4o', { ...usage, serviceTier: 'priority' })).toBeCloseTo((2 + 8) * 1.7, 9);
  });

  it('never finds Object.prototype members as prices', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'constructor-latest']) {
      expect(listPrice(name)).toBeUndefined();
      expect(new PriceBook(new Map()).cost('openai', name, { input: 10, cachedInput: 0, output: 10 })).toBe(0);
    }
  });

  it('prefers an exact snapshot entry over the alias its date suffix strips to', () => {
    const table: Record<string, ListPrice> = {
      'gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25 },
      'gpt-4o-2024-05-13': { input: 5, output: 15, cachedInput: 5 },
    };
    expect(lookupPrice(table, 'gpt-4o-2024-05-13')).toEqual({ input: 5, output: 15, cachedInput: 5 });
    expect(lookupPrice(table, 'GPT-4o-2024-05-13')?.input).toBe(5);
    expect(lookupPrice(table, 'gpt-4o-2024-08-06')?.input).toBe(2.5);
    expect(lookupPrice(table, 'gpt-4o-latest')?.input).toBe(2.5);
    expect(lookupPrice(table, 'gpt-4o')?.input).toBe(2.5);
    expect(lookupPrice(table, 'gpt-4o-mini')).toBeUndefined();
  });

  // Regression: gpt-5.2 to gpt-5.5 had no list price, so a call to OpenAI's current models cost $0 in every
  // report, and a route with a USD limit answered model_unpriced until the config priced them.
  it('has the gpt-5.2 to gpt-5.5 list prices, dated snapshots included', () => {
    expect(listPrice('gpt-5.5')).toMatchObject({ input: 5, output: 30, cachedInput: 0.5 });
    expect(listPrice('gpt-5.4-2026-03-05')).toMatchObject({ input: 2.5, output: 15, cachedInput: 0.25 });
    expect(listPrice('gpt-5.4-mini-2026-03-17')).toEqual({ input: 0.75, output: 4.5, cachedInput: 0.075, cacheWrite: 0.75 });
    expect(listPrice('gpt-5.4-nano')).toEqual({ input: 0.2, output: 1.25, cachedInput: 0.02, cacheWrite: 0.2 });
    expect(listPrice('gpt-5.2-2025-12-11')).toEqual({ input: 1.75, output: 14, cachedInput: 0.175, cacheWrite: 1.75 });
    // The pro models list no cached rate: a cache hit bills as input.
    expect(new PriceBook(new Map()).cost('openai', 'gpt-5.4-pro', { input: 100_000, cachedInput: 100_000, output: 100_000 })).toBeCloseTo((100_000 * 30 + 100_000 * 180) / 1e6, 9);
    expect(new PriceBook(new Map()).cost('openai', 'gpt-5.2-pro', { input: 1_000_000, cachedInput: 0, output: 1_000_000 })).toBeCloseTo(21 + 168, 9);
  });

  it("bills gpt-5.4 and gpt-5.5 past 272K input tokens at 2x input and 1.5x output for the whole call, cache hits included; the minis have no band", () => {
    const book = new PriceBook(new Map());
    const cost = (model: string, input: number, cachedInput = 0): number => book.cost('openai', model, { input, cachedInput, output: 1000 });
    expect(cost('gpt-5.4', 272_000)).toBeCloseTo((272_000 * 2.5 + 1000 * 15) / 1e6, 12);
    expect(cost('gpt-5.4', 272_001)).toBeCloseTo((272_001 * 5 + 1000 * 22.5) / 1e6, 12);
    expect(cost('gpt-5.5', 300_000, 100_000)).toBeCloseTo((200_000 * 10 + 100_000 * 1 + 1000 * 45) / 1e6, 12);
    expect(cost('gpt-5.4-pro', 300_000)).toBeCloseTo((300_000 * 60 + 1000 * 270) / 1e6, 12);
    expect(cost('gpt-5.4-mini', 300_000)).toBeCloseTo((300_000 * 0.75 + 1000 * 4.5) / 1e6, 12);
  });

  it('has the Claude 5 list prices, cache writes included', () => {
    expect(listPrice('claude-opus-5')).toEqual({ input: 5, output: 25, cachedInput: 0.5, cacheWrite: 6.25, cacheWrite1h: 10 });
    expect(listPrice('claude-fable-5-1')).toEqual({ input: 10, output: 50, cachedInput: 0.25, cacheWrite: 12.5, cacheWrite1h: 20 });
    expect(listPrice('claude-fable-5')?.cachedInput).toBe(1);
    expect(listPrice('claude-opus-5-5')).toEqual({ input: 4, output: 20, cachedInput: 0.2, cacheWrite: 5, cacheWrite1h: 8 });
    expect(listPrice('claude-sonnet-5')).toEqual({ input: 2, output: 10, cachedInput: 0.2, cacheWrite: 2.5, cacheWrite1h: 4 });
    // Sonnet 5.5's cache hits were cut to $0.10 on 2026-10-07 (list-prices.ts says where from).
    expect(listPrice('claude-sonnet-5-5')).toEqual({ input: 2, output: 10, cachedInput: 0.1, cacheWrite: 2.5, cacheWrite1h: 4 });
    // A dated Sonnet 5.5 id strips to Sonnet 5.5, not to Sonnet 5.
    expect(listPrice('claude-sonnet-5-5-20260915')?.cacheWrite).toBe(2.5);
    expect(listPrice('claude-opus-5-5-20260915')?.input).toBe(4);
  });

  // Regression: Claude 3 Haiku's 5-minute cache writes were priced at 1.25x input ($0.3125/M), not at
  // Anthropic's $0.30/M, so every cache write on it was overcharged by 4%.
  it('prices Claude 3 Haiku cache writes at its own list prices, and a configured price at their ratio', () => {
    const writes = { input: 1_000_000, cachedInput: 0, output: 0, cacheWriteInput: 1_000_000 };
    const book = new PriceBook(new Map([['vertex/claude-3-haiku', { input: 0.2, output: 1 }]]));
    expect(book.cost('anthropic', 'claude-3-haiku-20240307', writes)).toBeCloseTo(0.3, 9);
    expect(book.cost('anthropic', 'claude-3-haiku-20240307', { ...writes, cacheWrite1hInput: 1_000_000 })).toBeCloseTo(0.5, 9);
    expect(book.cost('vertex', 'claude-3-haiku', writes)).toBeCloseTo(0.2 * 1.2, 9);
  });

  it('prices cached input at the cached rate, config overriding the list', () => {
    const book = new PriceBook(new Map([['azure/gpt-4o', { input: 2, output: 8 }], ['vllm/llama', { input: 0.1, output: 0.2, cachedInput: 0.01 }]]));
    // List: 900 fresh input at 2.50, 100 cached at 1.25, 50 output at 10.
    expect(book.cost('openai', 'gpt-4o', { input: 1000, cachedInput: 100, output: 50 })).toBeCloseTo((900 * 2.5 + 100 * 1.25 + 50 * 10) / 1e6, 15);
    // Configured without a cached price: the list's cache discount (half) applies to the configured price.
    expect(book.priceOf('azure', 'gpt-4o')).toEqual({ input: 2, output: 8, cachedInput: 1, cacheWrite: 2 });
    expect(book.priceOf('vllm', 'llama')).toEqual({ input: 0.1, output: 0.2, cachedInput: 0.01 });
    expect(book.cost('vllm', 'unknown-model', { input: 1000, cachedInput: 0, output: 1000 })).toBe(0);
    expect(book.priceOf('vllm', 'unknown-model')).toBeUndefined();
  });

  it('prices an OpenAI call with cached input exactly', () => {
    const book = new PriceBook(new Map());
    // gpt-4.1: $2 input, $0.50 cached, $8 output. 12,000 input of which 8,000 cached; 1,500 output.
    // 4,000 × 2 + 8,000 × 0.5 + 1,500 × 8 = 8,000 + 4,000 + 12,000 = 24,000 µ$ → $0.024.
    expect(book.cost('openai', 'gpt-4.1-2025-04-14', { input: 12_000, cachedInput: 8_000, output: 1_500 })).toBeCloseTo(0.024, 12);
  });

  it('prices Anthropic cache reads and 5-minute / 1-hour cache writes at their own rates', () => {
    const book = new PriceBook(new Map());
    // claude-sonnet-4-5: $3 input, $0.30 cache hits, $3.75 5m writes, $6 1h writes, $15 output.
    // Input 10,000 in all: 2,000 fresh, 5,000 read, 3,000 written (1,000 of them with a 1-hour TTL).
    // 2,000 × 3 + 5,000 × 0.3 + 2,000 × 3.75 + 1,000 × 6 + 400 × 15 = 6,000 + 1,500 + 7,500 + 6,000 + 6,000 = 27,000 µ$.
    const usage = { input: 10_000, cachedInput: 5_000, cacheWriteInput: 3_000, cacheWrite1hInput: 1_000, output: 400 };
    expect(book.cost('anthropic', 'claude-sonnet-4-5-20250929', usage)).toBeCloseTo(0.027, 12);
    // Explicit list prices: claude-opus-5-5 writes at $5 (5m) / $8 (1h), reads at $0.20, $4 in, $20 out.
    // 2,000 × 4 + 5,000 × 0.2 + 2,000 × 5 + 1,000 × 8 + 400 × 20 = 8,000 + 1,000 + 10,000 + 8,000 + 8,000 = 35,000 µ$.
    expect(book.cost('anthropic', 'claude-opus-5-5', usage)).toBeCloseTo(0.035, 12);
    // Writes without a TTL split are 5-minute writes; without write counts the old pricing is unchanged.
    expect(book.cost('anthropic', 'claude-sonnet-4-5', { input: 1_000, cachedInput: 0, cacheWriteInput: 1_000, output: 0 })).toBeCloseTo(0.00375, 12);
    expect(book.cost('anthropic', 'claude-sonnet-4-5', { input: 1_000, cachedInput: 0, output: 0 })).toBeCloseTo(0.003, 12);
  });

  it('derives cache-write prices of a configured price from its input, and clamps inconsistent counts', () => {
    const book = new PriceBook(new Map([['bedrock/claude-opus-5-5', { input: 8, output: 40 }], ['proxy/custom', { input: 1, output: 2 }]]));
    // Configured input $8 on a list price writing at 1.25x / 2x input: $10 / $16; reads keep the list's 0.05x.
    expect(book.priceOf('bedrock', 'claude-opus-5-5')).toEqual({ input: 8, output: 40, cachedInput: 0.4, cacheWrite: 10, cacheWrite1h: 16 });
    // No list price at all: writes at 1.25x / 2x the configured input.
    expect(book.cost('proxy', 'custom', { input: 2_000, cachedInput: 0, cacheWriteInput: 2_000, cacheWrite1hInput: 1_000, output: 0 })).toBeCloseTo((1_000 * 1.25 + 1_000 * 2) / 1e6, 12);
    // Counts beyond the input total never bill more input than there was.
    expect(book.cost('proxy', 'custom', { input: 100, cachedInput: 80, cacheWriteInput: 500, cacheWrite1hInput: 900, output: 0 })).toBeCloseTo((80 * 1 + 20 * 2) / 1e6, 12);
  });

  describe('long-context band (Sonnet 4 and 4.5 past 200K input tokens: $6 / $22.50)', () => {
    const book = new PriceBook(new Map());
    const at = (input: number, extra: Partial<PricedUsage> = {}): number => book.cost('anthropic', 'claude-sonnet-4-5-20250929', { input, cachedInput: 0, output: 1000, ...extra });

    it('bills a call past the line at the band for all of its tokens, and one at the line at the standard price', () => {
      expect(at(200_000)).toBeCloseTo((200_000 * 3 + 1000 * 15) / 1e6, 12);
      expect(at(200_001)).toBeCloseTo((200_001 * 6 + 1000 * 22.5) / 1e6, 12);
      // Sonnet 4.6 serves its 1M window at the standard price.
      expect(book.cost('anthropic', 'claude-sonnet-4-6', { input: 500_000, cachedInput: 0, output: 1000 })).toBeCloseTo((500_000 * 3 + 1000 * 15) / 1e6, 12);
    });

    it('counts cache reads and writes toward the line, and prices them at their multiples of the band input price', () => {
      // 20,000 fresh + 150,000 read + 40,000 written (10,000 for an hour) = 210,000 input tokens.
      const cost = at(210_000, { cachedInput: 150_000, cacheWriteInput: 40_000, cacheWrite1hInput: 10_000 });
      expect(cost).toBeCloseTo((20_000 * 6 + 150_000 * 0.6 + 30_000 * 7.5 + 10_000 * 12 + 1000 * 22.5) / 1e6, 12);
    });

    it('keeps the band in proportion for a configured price, or takes the one configured', () => {
      const configured = new PriceBook(
        new Map<string, Price>([
          ['anthropic/claude-sonnet-4-5', { input: 2.4, output: 12 }],
          ['vllm/qwen-long', { input: 1, output: 2, longContext: { aboveInputTokens: 128_000, input: 2, output: 3 } }],
        ]),
      );
      const usage = { input: 300_000, cachedInput: 100_000, output: 1000 };
      // A 20% contract discount stays 20% past the line: input 4.8, cached 0.48, output 18.
      expect(configured.cost('anthropic', 'claude-sonnet-4-5', usage)).toBeCloseTo((200_000 * 4.8 + 100_000 * 0.48 + 1000 * 18) / 1e6, 12);
      // No list price to take a cached ratio from: cached input at the input price, in the band too.
      expect(configured.cost('vllm', 'qwen-long', { input: 128_000, cachedInput: 0, output: 1000 })).toBeCloseTo((128_000 * 1 + 1000 * 2) / 1e6, 12);
      expect(configured.cost('vllm', 'qwen-long', { input: 128_001, cachedInput: 1, output: 1000 })).toBeCloseTo((128_001 * 2 + 1000 * 3) / 1e6, 12);
    });

    it('compares models on summed usage at the standard band: a sum of calls says nothing of any one call', () => {
      const summed = { input: 5_000_000, cachedInput: 0, output: 10_000 };
      expect(book.standardCost('anthropic', 'claude-sonnet-4-5', summed)).toBeCloseTo((5_000_000 * 3 + 10_000 * 15) / 1e6, 12);
    });
  });
});
