import { describe, expect, it } from 'vitest';
import { PriceBook } from '../../ledger/price-book.js';
import { anthropicUsage, anthropicUsageParts } from './anthropic-usage.js';

describe('anthropic usage', () => {
  it('keeps input totals and reports cache writes beside them, split by TTL when the provider does', () => {
    const usage = anthropicUsage({
      input_tokens: 2_000,
      cache_read_input_tokens: 5_000,
      cache_creation_input_tokens: 3_000,
      cache_creation: { ephemeral_5m_input_tokens: 2_000, ephemeral_1h_input_tokens: 1_000 },
      output_tokens: 400,
    });
    expect(usage).toEqual({ input: 10_000, cachedInput: 5_000, cacheWriteInput: 3_000, cacheWrite1hInput: 1_000, output: 400, source: 'provider' });
    // claude-sonnet-4-5: 2,000 × 3 + 5,000 × 0.3 + 2,000 × 3.75 + 1,000 × 6 + 400 × 15 = 27,000 µ$.
    expect(new PriceBook(new Map()).cost('anthropic', 'claude-sonnet-4-5', usage!)).toBeCloseTo(0.027, 12);
  });

  it('treats writes without a TTL split as 5-minute writes, and adds no fields when nothing was written', () => {
    expect(anthropicUsageParts({ input_tokens: 10, cache_creation_input_tokens: 30, output_tokens: 1 })).toEqual({ input: 40, cachedInput: 0, cacheWriteInput: 30, output: 1 });
    expect(anthropicUsage({ input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 5, output_tokens: 1 })).toEqual({
      input: 15,
      cachedInput: 5,
      output: 1,
      source: 'provider',
    });
    // A 1-hour count larger than the writes is held to them.
    expect(anthropicUsageParts({ input_tokens: 0, cache_creation_input_tokens: 4, cache_creation: { ephemeral_1h_input_tokens: 9 } }).cacheWrite1hInput).toBe(4);
    // message_delta may carry output only.
    expect(anthropicUsageParts({ output_tokens: 7 })).toEqual({ input: undefined, cachedInput: undefined, output: 7 });
  });
});
