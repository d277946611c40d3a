// GPT-5.6 (Sol, Terra, Luna; July 2026) is the first OpenAI family that bills prompt-cache writes: 1.25x the
// uncached input rate, reported in `cache_write_tokens`. The built-in table had no gpt-5.6 rows (every 5.6
// call cost $0 in reports and passed money limits unpriced), and the price book billed a cache write on a
// price without a write rate at Anthropic's 1.25x, so an OpenAI model before 5.6, which writes for free,
// would have been over-billed by a quarter of input for any write it reported. Hand-computed from OpenAI's
// model pages (list-prices.ts names them).
import { describe, expect, it } from 'vitest';
import { listPrice } from '../src/ledger/list-prices.js';
import { PriceBook } from '../src/ledger/price-book.js';

const book = new PriceBook(new Map());
// µUSD per million tokens is USD per token; `cost` answers in USD.
const usd = (microUsd: number): number => microUsd / 1e6;

// 10,000 prompt tokens: 4,000 read from the cache, 3,000 written to it; 500 out.
const usage = (input = 10_000) => ({ input, output: 500, cachedInput: 4_000, cacheWriteInput: 3_000 });
const billed = (input: number, fresh: number, hit: number, write: number, out: number): number => usd((input - 7_000) * fresh + 4_000 * hit + 3_000 * write + 500 * out);

describe('the GPT-5.6 family in the built-in table', () => {
  it('prices Sol at $5 / $0.50 cached / $6.25 cache writes / $30, and the gpt-5.6 alias as Sol', () => {
    expect(book.cost('openai', 'gpt-5.6-sol', usage())).toBeCloseTo(billed(10_000, 5, 0.5, 6.25, 30), 12);
    expect(book.cost('openai', 'gpt-5.6', usage())).toBeCloseTo(billed(10_000, 5, 0.5, 6.25, 30), 12);
  });

  it('prices Terra at $2 / $0.20 / $2.50 / $12 and Luna at $0.20 / $0.02 / $0.25 / $1.20', () => {
    expect(book.cost('openai', 'gpt-5.6-terra', usage())).toBeCloseTo(billed(10_000, 2, 0.2, 2.5, 12), 12);
    expect(book.cost('openai', 'gpt-5.6-luna', usage())).toBeCloseTo(billed(10_000, 0.2, 0.02, 0.25, 1.2), 12);
  });

  it('prices a dated snapshot as its alias', () => {
    expect(listPrice('gpt-5.6-terra-2026-07-09')).toEqual(listPrice('gpt-5.6-terra'));
    expect(listPrice('gpt-5.6-terra-2026-07-09')?.cacheWrite).toBe(2.5);
  });

  it('bills every token of a prompt over 272K input tokens at 2x input (cache rates too) and 1.5x output', () => {
    expect(book.cost('openai', 'gpt-5.6-sol', usage(272_000))).toBeCloseTo(billed(272_000, 5, 0.5, 6.25, 30), 12);
    expect(book.cost('openai', 'gpt-5.6-sol', usage(272_001))).toBeCloseTo(billed(272_001, 10, 1, 12.5, 45), 12);
    expect(book.cost('openai', 'gpt-5.6-luna', usage(300_000))).toBeCloseTo(billed(300_000, 0.4, 0.04, 0.5, 1.8), 12);
  });

  it('keeps the cache-write multiple of a configured 5.6 price (a contract discount applies to writes too)', () => {
    const contract = new PriceBook(new Map([['azure/gpt-5.6-terra', { input: 1.6, output: 9.6 }]]));
    expect(contract.cost('azure', 'gpt-5.6-terra', usage())).toBeCloseTo(billed(10_000, 1.6, 0.16, 2, 9.6), 12);
  });
});

describe('OpenAI models before GPT-5.6 write the prompt cache for free', () => {
  it('bills a reported write at the plain input rate, not 1.25x', () => {
    expect(book.cost('openai', 'gpt-5.5', usage())).toBeCloseTo(billed(10_000, 5, 0.5, 5, 30), 12);
    expect(book.cost('openai', 'gpt-4o-mini', usage())).toBeCloseTo(billed(10_000, 0.15, 0.075, 0.15, 0.6), 12);
    expect(book.cost('openai', 'o3', usage())).toBeCloseTo(billed(10_000, 2, 0.5, 2, 8), 12);
  });

  it('at the priority tier and past gpt-5.5\'s long-context line as well', () => {
    expect(book.cost('openai', 'gpt-5.5', { ...usage(), serviceTier: 'priority' })).toBeCloseTo(billed(10_000, 12.5, 1.25, 12.5, 75), 12);
    expect(book.cost('openai', 'gpt-5.5', usage(300_000))).toBeCloseTo(billed(300_000, 10, 1, 10, 45), 12);
  });

  it('and under a configured price of such a model', () => {
    const contract = new PriceBook(new Map([['azure/gpt-4.1', { input: 1.5, output: 6 }]]));
    expect(contract.cost('azure', 'gpt-4.1', usage())).toBeCloseTo(billed(10_000, 1.5, 0.375, 1.5, 6), 12);
  });

  it('while Anthropic\'s writes keep their 1.25x', () => {
    expect(book.cost('anthropic', 'claude-sonnet-4-6', usage())).toBeCloseTo(billed(10_000, 3, 0.3, 3.75, 15), 12);
  });
});
