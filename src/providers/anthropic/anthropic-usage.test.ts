import { describe, expect, it } from 'vitest';
import { PriceBook } from '../../ledger/price-book.js';
import { anthropicUsage, anthropicUsageParts } from './anthropic-usage.js';
import { AnthropicStreamReader } from './messages-stream.js';

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

  it('reads web searches billed per search, and counts the searches a stream showed when it ends before its usage', () => {
    const usage = anthropicUsage({ input_tokens: 100, output_tokens: 20, server_tool_use: { web_search_requests: 3, web_fetch_requests: 2 } });
    expect(usage).toEqual({ input: 100, cachedInput: 0, output: 20, source: 'provider', toolCalls: { web_search: 3 } });
    // None made: no field, as before (web fetch has no per-call fee).
    expect(anthropicUsage({ input_tokens: 100, output_tokens: 20, server_tool_use: { web_search_requests: 0, web_fetch_requests: 1 } })).not.toHaveProperty('toolCalls');
    // 3 searches at $10 per 1,000 on top of 100 × 3 + 20 × 15 µ$.
    expect(new PriceBook(new Map()).cost('anthropic', 'claude-sonnet-4-5', usage!)).toBeCloseTo(0.0306, 12);

    const reader = new AnthropicStreamReader();
    const event = (data: object): { data: string } => ({ data: JSON.stringify(data) });
    reader.read(event({ type: 'message_start', message: { usage: { input_tokens: 100, output_tokens: 1, server_tool_use: { web_search_requests: 0 } } } }));
    for (const index of [0, 2]) reader.read(event({ type: 'content_block_start', index, content_block: { type: 'server_tool_use', id: `s${index}`, name: 'web_search', input: {} } }));
    reader.read(event({ type: 'content_block_start', index: 4, content_block: { type: 'server_tool_use', id: 's4', name: 'web_fetch', input: {} } }));
    // Cut here (the client left): the two searches it ran are billed.
    expect(reader.usage.toolCalls).toEqual({ web_search: 2 });
    // The final usage is the provider's word: a search that failed is not billed.
    reader.read(event({ type: 'message_delta', delta: {}, usage: { output_tokens: 30, server_tool_use: { web_search_requests: 1 } } }));
    expect(reader.usage.toolCalls).toEqual({ web_search: 1 });
  });
});
