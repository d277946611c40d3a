// The built-in prices of Anthropic's newest models against hand computation from the
// provider's pages (list-prices.ts names them). A model missing from the table costs $0 in every report,
// dashboard and money limit, so an org on Haiku 5.5 or Fable 5.2 looked free.
import { describe, expect, it } from 'vitest';
import { PriceBook } from '../src/ledger/price-book.js';

const book = new PriceBook(new Map());
// µUSD per million tokens is USD per token; `cost` answers in USD.
const usd = (microUsd: number): number => microUsd / 1e6;

describe('Claude Haiku 5.5: two bands by prompt length', () => {
  // 100,000 prompt tokens: 40,000 read from the cache, 10,000 written for 5 minutes and 5,000 for an hour.
  const usage = (input: number) => ({ input, output: 2_000, cachedInput: 40_000, cacheWriteInput: 15_000, cacheWrite1hInput: 5_000 });

  it('bills a prompt of up to 100,000 tokens at $0.10 / $0.50, cache hits $0.01, writes $0.125 / $0.20', () => {
    const fresh = 100_000 - 40_000 - 15_000;
    const expected = fresh * 0.1 + 40_000 * 0.01 + 10_000 * 0.125 + 5_000 * 0.2 + 2_000 * 0.5;
    expect(book.cost('anthropic', 'claude-haiku-5-5', usage(100_000))).toBeCloseTo(usd(expected), 12);
    // A dated snapshot is priced as its alias.
    expect(book.cost('anthropic', 'claude-haiku-5-5-20261007', usage(100_000))).toBeCloseTo(usd(expected), 12);
  });

  it('bills every token of a longer prompt at 5x: $0.50 / $2.50, cache hits $0.05, writes $0.625 / $1', () => {
    const fresh = 100_001 - 40_000 - 15_000;
    const expected = fresh * 0.5 + 40_000 * 0.05 + 10_000 * 0.625 + 5_000 * 1 + 2_000 * 2.5;
    expect(book.cost('anthropic', 'claude-haiku-5-5', usage(100_001))).toBeCloseTo(usd(expected), 12);
  });

  it('is a model of the US-only surcharge (1.1x), as every model from Opus 4.6 on', () => {
    const plain = { input: 1_000, output: 100, cachedInput: 0 };
    expect(book.cost('anthropic', 'claude-haiku-5-5', { ...plain, inferenceGeo: 'us' })).toBeCloseTo(usd((1_000 * 0.1 + 100 * 0.5) * 1.1), 12);
  });
});

describe('Claude Fable 5.2 and the Mythos models', () => {
  const usage = { input: 1_000, output: 100, cachedInput: 200, cacheWriteInput: 300, cacheWrite1hInput: 100 };
  // 500 fresh, 200 cache hits, 200 written for 5 minutes, 100 for an hour, 100 out.
  const at = (input: number, output: number, hit: number, write: number, write1h: number): number =>
    usd(500 * input + 200 * hit + 200 * write + 100 * write1h + 100 * output);

  it('prices Fable 5.2 (and Mythos 5.2) at $8 / $40, cache hits $0.20, writes $10 / $16', () => {
    expect(book.cost('anthropic', 'claude-fable-5-2', usage)).toBeCloseTo(at(8, 40, 0.2, 10, 16), 12);
    expect(book.cost('anthropic', 'claude-mythos-5-2', usage)).toBeCloseTo(at(8, 40, 0.2, 10, 16), 12);
  });

  it('prices Mythos 5 and 5.1 as Fable 5 and 5.1 (cache hits $1 and $0.25)', () => {
    expect(book.cost('anthropic', 'claude-mythos-5', usage)).toBeCloseTo(at(10, 50, 1, 12.5, 20), 12);
    expect(book.cost('anthropic', 'claude-mythos-5-1', usage)).toBeCloseTo(at(10, 50, 0.25, 12.5, 20), 12);
  });
});

describe('Claude Sonnet 5.5', () => {
  it('bills cache hits at $0.10 since 2026-10-07 (0.05x input), the rest at $2 / $10, writes $2.50 / $4', () => {
    const usage = { input: 10_000, output: 500, cachedInput: 8_000, cacheWriteInput: 1_000, cacheWrite1hInput: 400 };
    const expected = 1_000 * 2 + 8_000 * 0.1 + 600 * 2.5 + 400 * 4 + 500 * 10;
    expect(book.cost('anthropic', 'claude-sonnet-5-5', usage)).toBeCloseTo(usd(expected), 12);
  });
});
