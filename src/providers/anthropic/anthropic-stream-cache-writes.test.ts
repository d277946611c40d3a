// Cache writes in streamed Anthropic answers: message_start reports them (split by TTL), the closing
// message_delta repeats the cumulative counts without the split; the settled usage carries them so the
// price book bills them at the cache-write price, as it does for non-streamed answers.
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { PriceBook } from '../../ledger/price-book.js';
import { relayStream } from '../../proxy/stream-relay.js';
import { OutputTokenCounter } from '../../tokens/choice-counter.js';
import { OpenAIChatStream } from '../openai/index.js';
import { SseParser, type SseEvent } from '../sse/index.js';
import type { StreamAdapter } from '../stream-adapter.js';
import { AnthropicMessagesStream, MessagesToChatStream } from './index.js';

const START_USAGE =
  '{"input_tokens":2000,"cache_creation_input_tokens":3000,"cache_read_input_tokens":5000,"cache_creation":{"ephemeral_5m_input_tokens":2000,"ephemeral_1h_input_tokens":1000},"output_tokens":1,"service_tier":"standard"}';

/** An Anthropic stream as the API sends it (the shape of the recorded fixtures), with cache writes and reads. */
function stream(startUsage = START_USAGE, deltaUsage = '{"input_tokens":2000,"cache_creation_input_tokens":3000,"cache_read_input_tokens":5000,"output_tokens":400}'): Buffer {
  return Buffer.from(
    [
      `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":${startUsage}}}\n\n`,
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
      'event: ping\ndata: {"type": "ping"}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there!"}}\n\n',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
      `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":${deltaUsage}}\n\n`,
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ].join(''),
  );
}

function events(bytes: Buffer): SseEvent[] {
  const p = new SseParser();
  return [...p.push(bytes), ...p.end()];
}

function run(adapter: StreamAdapter, bytes: Buffer): void {
  for (const ev of events(bytes)) adapter.step(ev);
}

function sink(): ServerResponse {
  const res = { destroyed: false, write: () => true, on: () => res, off: () => res, destroy: () => undefined };
  return res as unknown as ServerResponse;
}

async function* once(bytes: Buffer): AsyncIterable<Uint8Array> {
  yield bytes;
}

const relay = (adapter: StreamAdapter, bytes: Buffer, cap?: number) =>
  relayStream(once(bytes), sink(), { adapter, counter: new OutputTokenCounter('claude-sonnet-4-5'), inputFallback: () => 1, cap });

// claude-sonnet-4-5: 2,000 × 3 + 5,000 × 0.3 + 2,000 × 3.75 + 1,000 × 6 + 400 × 15 = 27,000 µ$.
const COST = 0.027;
const prices = new PriceBook(new Map());

describe('cache writes in a streamed Anthropic answer', () => {
  it('the stream adapters report them, for Anthropic clients and translated OpenAI clients alike', () => {
    for (const adapter of [new AnthropicMessagesStream(), new MessagesToChatStream(true)]) {
      run(adapter, stream());
      expect(adapter.usage).toEqual({ input: 10_000, cachedInput: 5_000, cacheWriteInput: 3_000, cacheWrite1hInput: 1_000, output: 400, final: true });
    }
  });

  it('settles them with the usage, billed at the cache-write price', async () => {
    for (const adapter of [new AnthropicMessagesStream(), new MessagesToChatStream(false)]) {
      const { usage, outcome } = await relay(adapter, stream());
      expect(outcome).toBe('complete');
      expect(usage).toEqual({ input: 10_000, output: 400, cachedInput: 5_000, cacheWriteInput: 3_000, cacheWrite1hInput: 1_000, source: 'provider' });
      expect(prices.cost('anthropic', 'claude-sonnet-4-5', usage)).toBeCloseTo(COST, 12);
      // Billed at the base input price, the 3,000 written tokens would cost 3,000 × 3 = 9,000 µ$ instead of 13,500.
      expect(prices.cost('anthropic', 'claude-sonnet-4-5', { ...usage, cacheWriteInput: undefined, cacheWrite1hInput: undefined })).toBeCloseTo(COST - 0.0045, 12);
    }
  });

  it('keeps the writes of message_start when the stream is cut and its output counted', async () => {
    const { usage, outcome } = await relay(new AnthropicMessagesStream(), stream(), 1);
    expect(outcome).toBe('cut_at_limit');
    expect(usage).toMatchObject({ input: 10_000, cachedInput: 5_000, cacheWriteInput: 3_000, cacheWrite1hInput: 1_000, source: 'estimated' });
  });

  it('takes the cumulative writes of a message_delta, keeping the 1-hour split message_start reported', () => {
    const adapter = new AnthropicMessagesStream();
    run(adapter, stream(START_USAGE, '{"input_tokens":2000,"cache_creation_input_tokens":3500,"cache_read_input_tokens":5000,"output_tokens":400}'));
    expect(adapter.usage).toEqual({ input: 10_500, cachedInput: 5_000, cacheWriteInput: 3_500, cacheWrite1hInput: 1_000, output: 400, final: true });
    // An older-style delta (output only) leaves message_start's figures as they were.
    const old = new AnthropicMessagesStream();
    run(old, stream(START_USAGE, '{"output_tokens":400}'));
    expect(old.usage).toEqual({ input: 10_000, cachedInput: 5_000, cacheWriteInput: 3_000, cacheWrite1hInput: 1_000, output: 400, final: true });
  });

  it("keeps message_start's cache reads and writes when a message_delta leaves them out or sends null, as the SDK does", async () => {
    // MessageDeltaUsage has `input_tokens`, `cache_creation_input_tokens` and `cache_read_input_tokens` as
    // `number | null`: cumulative totals, each omitted (or null) when not reported, taken over field by field.
    // Regression: a delta with `input_tokens` and null cache counts settled 2,000 input tokens instead of
    // 10,000, none of them cached, while still billing 3,000 cache writes.
    for (const deltaUsage of [
      '{"input_tokens":2000,"cache_creation_input_tokens":null,"cache_read_input_tokens":null,"output_tokens":400,"server_tool_use":null}',
      '{"input_tokens":2000,"output_tokens":400}',
      '{"input_tokens":null,"cache_creation_input_tokens":null,"cache_read_input_tokens":null,"output_tokens":400}',
    ]) {
      for (const adapter of [new AnthropicMessagesStream(), new MessagesToChatStream(false)]) {
        const { usage, outcome } = await relay(adapter, stream(START_USAGE, deltaUsage));
        expect(outcome, deltaUsage).toBe('complete');
        expect(usage, deltaUsage).toEqual({ input: 10_000, output: 400, cachedInput: 5_000, cacheWriteInput: 3_000, cacheWrite1hInput: 1_000, source: 'provider' });
        expect(prices.cost('anthropic', 'claude-sonnet-4-5', usage)).toBeCloseTo(COST, 12);
      }
    }
    // A count the delta does report replaces message_start's, even when it is lower.
    const adapter = new AnthropicMessagesStream();
    run(adapter, stream(START_USAGE, '{"input_tokens":2000,"cache_creation_input_tokens":null,"cache_read_input_tokens":4000,"output_tokens":400}'));
    expect(adapter.usage).toEqual({ input: 9_000, cachedInput: 4_000, cacheWriteInput: 3_000, cacheWrite1hInput: 1_000, output: 400, final: true });
  });

  it('adds no cache-write fields when nothing was written, nor to OpenAI usage', async () => {
    const none = '{"input_tokens":21,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1}';
    const plain = await relay(new AnthropicMessagesStream(), stream(none, '{"output_tokens":4}'));
    expect(Object.keys(plain.usage)).toEqual(['input', 'output', 'cachedInput', 'source']);
    expect(plain.usage).toEqual({ input: 21, output: 4, cachedInput: 0, source: 'provider' });

    const head = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[';
    const chat = Buffer.from(
      `data: ${head}{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}],"usage":null}\n\n` +
        `data: ${head}],"usage":{"prompt_tokens":7,"completion_tokens":1,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":0}}}\n\ndata: [DONE]\n\n`,
    );
    const openai = await relay(new OpenAIChatStream(true), chat);
    expect(Object.keys(openai.usage)).toEqual(['input', 'output', 'cachedInput', 'source']);
  });
});
