// The Anthropic provider end to end: the base URL's query reaches every upstream path, and cache writes
// reported in a streamed answer are settled and priced at the cache-write price (the mock upstream
// reports no cache tokens, so that part answers from a small upstream replaying Anthropic's stream).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { rowFromCall } from '../src/ledger/call-row.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { PriceBook } from '../src/ledger/price-book.js';
import type { MockUpstream } from '../src/mock-upstream/index.js';
import type { CallRecord } from '../src/proxy/gateway.js';
import { startCacheReplay, type CacheReplay } from './helpers/anthropic-cache-replay.js';
import { startBehindMock, stopBehindMock, type TestGateway } from './helpers/in-process.js';
import { usageOfRow } from './helpers/usage-of-row.js';


let upstream: MockUpstream;
let gw: TestGateway;
let replay: CacheReplay;
let replayUrl: string;

const config = (url: string): string => `
server: {timezone: UTC}
providers:
  claude: {type: anthropic, base_url: "${url}?tenant=acme"}
  claudev1: {type: anthropic, base_url: "${url}/v1/?tenant=acme&region=eu"}
  cachey: {type: anthropic, base_url: "${replayUrl}"}
projects:
  p: {daily_limit: 10000000}
routes:
  main:
    chat_models:
      - {model_id: claude, model: claude/claude-sonnet-4-5}
      - {model_id: claude-v1, model: claudev1/claude-sonnet-4-5}
      - {model_id: cached, model: cachey/claude-sonnet-4-5}
keys:
  - {id: k, key: tg-k, project: p}
`;

const anthropic = (): Anthropic => new Anthropic({ baseURL: gw.url, apiKey: 'tg-k', maxRetries: 0 });
const openai = (): OpenAI => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'hi' }];

beforeAll(async () => {
  replay = await startCacheReplay();
  replayUrl = replay.url;
  ({ upstream, gw } = await startBehindMock({ latencyMs: 0, outputTokens: 8 }, config));
});
afterAll(async () => {
  await stopBehindMock(gw, upstream);
  await replay.close();
});
beforeEach(() => upstream.clearRequests());

describe('an Anthropic base_url with a query string', () => {
  it('keeps the query on every upstream path, streamed, translated or not', async () => {
    await anthropic().messages.create({ model: 'claude', max_tokens: 50, messages });
    for await (const _ of await anthropic().messages.create({ model: 'claude', max_tokens: 50, messages, stream: true }));
    await anthropic().messages.countTokens({ model: 'claude', messages });
    await openai().chat.completions.create({ model: 'claude', messages });
    for await (const _ of await openai().chat.completions.create({ model: 'claude', messages, stream: true }));
    await anthropic().messages.create({ model: 'claude-v1', max_tokens: 50, messages });
    expect(upstream.requests().map((r) => r.url)).toEqual([
      '/v1/messages?tenant=acme',
      '/v1/messages?tenant=acme',
      '/v1/messages/count_tokens?tenant=acme',
      '/v1/messages?tenant=acme',
      '/v1/messages?tenant=acme',
      '/v1/messages?tenant=acme&region=eu',
    ]);
  });
});

describe('cache writes in a streamed Anthropic answer', () => {
  const prices = new PriceBook(new Map());
  // claude-sonnet-4-5: 2,000 × 3 + 5,000 × 0.3 + 2,000 × 3.75 + 1,000 × 6 + 400 × 15 = 27,000 µ$, of which 21,000 for input.
  const settled = { input: 10_000, output: 400, cachedInput: 5_000, cacheWriteInput: 3_000, cacheWrite1hInput: 1_000, source: 'provider' };
  const expectSplit = (row: LedgerRow, call: CallRecord): void => {
    expect(row.costUsd).toBeCloseTo(0.027, 12);
    expect(row.inputCostUsd).toBeCloseTo(0.021, 12);
    // The same double as cost(), which reports and metrics have always shown.
    expect(row.costUsd).toBe(prices.cost(call.target.model.provider, call.target.model.upstreamModel, call.usage));
    // The row explains its own cost: its columns price to the same double (FinOps audit: they gave $0.0225).
    expect(row).toMatchObject({ inputTokens: 10_000, cachedInputTokens: 5_000, cacheWriteInputTokens: 3_000, cacheWrite1hInputTokens: 1_000, serviceTier: null });
    expect(prices.cost(row.provider, row.model, usageOfRow(row))).toBe(row.costUsd);
  };

  it('settles them and prices them at the cache-write price, for an Anthropic client', async () => {
    let text = '';
    for await (const ev of await anthropic().messages.create({ model: 'cached', max_tokens: 500, messages, stream: true })) {
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    }
    expect(text).toBe('Hello there!');
    const call = gw.calls.at(-1)!;
    expect(call).toMatchObject({ endpoint: 'messages', stream: true, status: 200 });
    expect(call.usage).toEqual(settled);
    expectSplit(rowFromCall(call, prices), call);
  });

  it('settles them for an OpenAI client of the Claude model too', async () => {
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of await openai().chat.completions.create({ model: 'cached', messages, stream: true, stream_options: { include_usage: true } })) {
      usage = chunk.usage ?? usage;
    }
    expect(usage).toMatchObject({ prompt_tokens: 10_000, completion_tokens: 400 });
    const call = gw.calls.at(-1)!;
    expect(call).toMatchObject({ endpoint: 'chat', stream: true, status: 200 });
    expect(call.usage).toEqual(settled);
    expectSplit(rowFromCall(call, prices), call);
  });
});
