import { describe, expect, it } from 'vitest';
import { listPrice } from './list-prices.js';
import { PriceBook } from './price-book.js';

describe('pricing', () => {
  it('finds list prices for dated snapshots and aliases, and nothing for unknown models', () => {
    expect(listPrice('gpt-4o-2024-08-06')).toEqual({ input: 2.5, output: 10, cachedInput: 1.25 });
    expect(listPrice('claude-sonnet-4-20250514')).toEqual({ input: 3, output: 15, cachedInput: 0.3 });
    expect(listPrice('claude-3-5-haiku-latest')).toEqual({ input: 0.8, output: 4, cachedInput: 0.08 });
    expect(listPrice('claude-opus-4-5-20251101')?.input).toBe(5);
    expect(listPrice('claude-opus-4-1-20250805')?.input).toBe(15);
    expect(listPrice('meta-llama/Llama-3-8B')).toBeUndefined();
  });

  it('prices cached input at the cached rate, config overriding the list', () => {
    const book = new PriceBook(new Map([['azure/gpt-4o', { input: 2, output: 8 }], ['vllm/llama', { input: 0.1, output: 0.2, cachedInput: 0.01 }]]));
    // List: 900 fresh input at 2.50, 100 cached at 1.25, 50 output at 10.
    expect(book.cost('openai', 'gpt-4o', { input: 1000, cachedInput: 100, output: 50 })).toBeCloseTo((900 * 2.5 + 100 * 1.25 + 50 * 10) / 1e6, 15);
    // Configured without a cached price: the list's cache discount (half) applies to the configured price.
    expect(book.priceOf('azure', 'gpt-4o')).toEqual({ input: 2, output: 8, cachedInput: 1 });
    expect(book.priceOf('vllm', 'llama')).toEqual({ input: 0.1, output: 0.2, cachedInput: 0.01 });
    expect(book.cost('vllm', 'unknown-model', { input: 1000, cachedInput: 0, output: 1000 })).toBe(0);
    expect(book.priceOf('vllm', 'unknown-model')).toBeUndefined();
  });
});
