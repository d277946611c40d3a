// Prompt caching, tool use and extended thinking end to end: the Anthropic SDK (and the OpenAI SDK through
// the bridge) → the gateway → an `anthropic` provider on the mock upstream, which reports cache reads and
// writes, tool calls and thinking as the API does when told to (mock_cache_*, tool_choice, thinking). Each
// call's ledger row (SQLite, as `tollgate serve` writes it) has the cached tokens and the cost Anthropic
// bills: cache reads at 0.1x input, 5-minute writes at 1.25x, 1-hour writes at 2x; and the limits are
// charged the same figures (token limits every input token, money limits the billed dollars).
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { countTextTokens } from '../src/tokens/index.js';
import { UPSTREAM_KEY, useAnthropicBilling } from './helpers/anthropic-billing.js';
import type { UsageTestGateway } from './helpers/usage-gateway.js';

const MODEL = 'claude-sonnet-4-5-20250929';

// Sonnet at the built-in list price of claude-sonnet-4-5: $3 input, $15 output, $0.30 cache reads, $3.75
// 5-minute and $6 1-hour cache writes, per million tokens. Haiku at a configured price of $1 / $5, whose
// cache prices follow it at Anthropic's multiples (money limits need a configured price). Each project has
// one limit, so each call's row names it.
const HAIKU = 'claude-haiku-4-5-20251001';
const config = (): string => `
pricing:
  "claude/${HAIKU}": {input: 1, output: 5}
projects:
  tokens: {daily_limit: 10000000}
  dollars: {daily_limit: {max_cost_usd: 100}}
routes:
  main:
    chat_models: [{model_id: sonnet, model: claude/${MODEL}}]
  paid:
    chat_models: [{model_id: haiku, model: claude/${HAIKU}}]
keys:
  - {id: t, key: tg-tokens, project: tokens, routes: [main]}
  - {id: d, key: tg-dollars, project: dollars, routes: [paid]}
`;

// A long system prompt, as prompt caching is for: its count is the call's whole input.
const system = 'You answer questions about the weather, briefly and politely. '.repeat(150);
const messages = [{ role: 'user' as const, content: 'Will it rain in Paris tomorrow?' }];
const CACHE = { mock_cache_read_tokens: 1200, mock_cache_write_tokens: 300, mock_cache_write_1h_tokens: 100 };

/** µUSD of a call at `input` and `output` dollars per million tokens, from the figures Anthropic reports. */
function billed(fresh: number, read: number, write5m: number, write1h: number, output: number, price = { input: 3, output: 15 }): { input: number; output: number } {
  return { input: (fresh + read * 0.1 + write5m * 1.25 + write1h * 2) * price.input, output: output * price.output };
}

describe('prompt caching through the gateway, as the ledger and the limits see it', () => {
  const billing = useAnthropicBilling(config);
  const { gw, rowOf } = billing;
  const anthropic = (key = 'tg-tokens'): Anthropic => billing.anthropic(key);
  const openai = (key = 'tg-tokens'): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });

  /** The prompt as the mock counted it: the body the gateway sent (model, max_tokens and all), with the gateway's estimator. */
  function lastPrompt(): number {
    expect(billing.upstream().requests().at(-1)!.headers['x-api-key']).toBe(UPSTREAM_KEY);
    return billing.lastPrompt();
  }

  /** Checks a row against the figures the mock reported for CACHE. */
  function expectCachedRow(row: LedgerRow, prompt: number, output: number, model = MODEL, price = { input: 3, output: 15 }): void {
    const fresh = prompt - 1600;
    expect(fresh).toBeGreaterThan(0);
    expect(row).toMatchObject({
      provider: 'claude',
      model,
      status: 200,
      usageSource: 'provider',
      // Every input token the model read, cached or not; of them 1,200 read from the cache and 400 written to it, 100 for an hour.
      inputTokens: prompt,
      cachedInputTokens: 1200,
      cacheWriteInputTokens: 400,
      cacheWrite1hInputTokens: 100,
      outputTokens: output,
    });
    const cost = billed(fresh, 1200, 300, 100, output, price);
    expect(row.inputCostUsd).toBeCloseTo(cost.input / 1e6, 12);
    expect(row.costUsd).toBeCloseTo((cost.input + cost.output) / 1e6, 12);
  }

  it('a non-streamed call: its row has the cache reads and writes, priced at 0.1x, 1.25x and 2x input', async () => {
    const { data, response } = await anthropic()
      .messages.create({ model: 'sonnet', max_tokens: 200, system, messages, ...(CACHE as object) })
      .withResponse();
    const prompt = lastPrompt();
    // The client sees Anthropic's own figures, untouched.
    expect(data.usage).toMatchObject({
      input_tokens: prompt - 1600,
      cache_read_input_tokens: 1200,
      cache_creation_input_tokens: 400,
      cache_creation: { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 100 },
      output_tokens: 20,
    });
    expectCachedRow(await rowOf(response.headers.get('request-id')), prompt, 20);
  });

  it('a streamed call: the same, from message_start and the cumulative message_delta', async () => {
    const stream = anthropic().messages.stream({ model: 'sonnet', max_tokens: 200, system, messages, ...(CACHE as object) });
    const message = await stream.finalMessage();
    expect(message.usage).toMatchObject({ cache_read_input_tokens: 1200, cache_creation_input_tokens: 400, output_tokens: 20 });
    const prompt = lastPrompt();
    expectCachedRow(await rowOf(stream.request_id ?? null), prompt, 20);
  });

  it('an OpenAI client of the Claude model, streamed or not: the same row, cache reads as cached_tokens', async () => {
    const chat = [{ role: 'system' as const, content: system }, ...messages];
    const { data, response } = await openai()
      .chat.completions.create({ model: 'sonnet', max_tokens: 200, messages: chat, ...(CACHE as object) })
      .withResponse();
    let prompt = lastPrompt();
    expect(data.usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 1200 } });
    expectCachedRow(await rowOf(response.headers.get('x-request-id')), prompt, 20);

    const streamed = await openai()
      .chat.completions.create({ model: 'sonnet', max_tokens: 200, messages: chat, stream: true, stream_options: { include_usage: true }, ...(CACHE as object) })
      .withResponse();
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of streamed.data) usage = chunk.usage ?? usage;
    prompt = lastPrompt();
    expect(usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 1200 } });
    expectCachedRow(await rowOf(streamed.response.headers.get('x-request-id')), prompt, 20);
  });

  it('charges the limits what the rows say: every input token to a token limit, the billed dollars to a money limit', async () => {
    const g = gw();
    await g.usage.writer.flush();
    const audit = async (): Promise<Map<string, { counter: number; ledger: number; drift: number }>> => {
      await g.usage.writer.flush();
      const report = await auditCounters(g.usage.ledger, g.gateway.policy, g.store, () => g.clock.now());
      return new Map(report.lines.map((l) => [l.limit, l]));
    };
    const rows = async (limit: string): Promise<LedgerRow[]> => (await g.usage.ledger.rows({})).filter((r) => r.limits.includes(limit));

    // The token limit has counted the calls above: input (cached and written included) plus output.
    const tokenRows = await rows('project:tokens:daily');
    expect(tokenRows.length).toBeGreaterThanOrEqual(4);
    const tokenLine = (await audit()).get('project:tokens:daily')!;
    expect(tokenLine.drift).toBe(0);
    expect(tokenLine.counter).toBe(tokenRows.reduce((n, r) => n + r.inputTokens + r.outputTokens, 0));

    // The money limit counts dollars at the cache prices, streamed or not.
    const plain = await anthropic('tg-dollars').messages.create({ model: 'haiku', max_tokens: 200, system, messages, ...(CACHE as object) }).withResponse();
    expectCachedRow(await rowOf(plain.response.headers.get('request-id')), lastPrompt(), 20, HAIKU, { input: 1, output: 5 });
    const stream = anthropic('tg-dollars').messages.stream({ model: 'haiku', max_tokens: 200, system, messages, ...(CACHE as object) });
    await stream.finalMessage();
    expectCachedRow(await rowOf(stream.request_id ?? null), lastPrompt(), 20, HAIKU, { input: 1, output: 5 });
    const dollarRows = await rows('project:dollars:daily');
    expect(dollarRows).toHaveLength(2);
    const line = (await audit()).get('project:dollars:daily')!;
    expect(line.drift).toBe(0);
    const costs = dollarRows.reduce((sum, r) => sum + r.costUsd, 0);
    expect(line.counter).toBeCloseTo(costs, 9);
    // At the base input price the same calls would have counted differently: 1,200 reads at $3 instead of $0.30
    // weigh more than 400 writes at $3.75-$6 instead of $3.
    const atBase = dollarRows.reduce((sum, r) => sum + (r.inputTokens * 1 + r.outputTokens * 5) / 1e6, 0);
    expect(costs).toBeCloseTo(atBase - (2 * (1200 * 0.9 - 300 * 0.25 - 100)) / 1e6, 12);
  });
});

describe('tool use and thinking through the gateway', () => {
  const { gw, upstreamUrl, rowOf, anthropic: client } = useAnthropicBilling(config);
  const anthropic = (): Anthropic => client('tg-tokens');
  const openai = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-tokens', maxRetries: 0 });
  const tools: Anthropic.Tool[] = [
    {
      name: 'get_weather',
      description: 'The weather forecast for a city.',
      input_schema: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['city'] },
    },
  ];
  const args = { city: 'mock', unit: 'celsius' };
  const toolTokens = countTextTokens('get_weather' + JSON.stringify(args), MODEL);

  it('relays a streamed tool call byte for byte (input_json_delta included) and charges its output', async () => {
    const body = { model: 'sonnet', max_tokens: 300, messages, tools, tool_choice: { type: 'tool', name: 'get_weather' }, stream: true };
    const res = await fetch(`${gw().url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'tg-tokens', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(body),
    });
    const relayed = await res.text();
    // The same request straight to the mock (ids differ per call): the same frames, apart from the ids.
    const direct = await (
      await fetch(`${upstreamUrl()}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': UPSTREAM_KEY },
        body: JSON.stringify({ ...body, model: MODEL }),
      })
    ).text();
    const noIds = (s: string): string => s.replace(/"(msg|toolu)_01[A-Za-z0-9]+"/g, '"$1_ID"');
    expect(noIds(relayed)).toBe(noIds(direct));
    expect(relayed).toContain('"type":"input_json_delta"');
    expect(relayed).toContain('"stop_reason":"tool_use"');
    expect(await rowOf(res.headers.get('request-id'))).toMatchObject({ outputTokens: toolTokens, usageSource: 'provider', streamEnd: 'complete' });

    // The SDK assembles the call from the deltas.
    const message = await anthropic().messages.stream({ model: 'sonnet', max_tokens: 300, messages, tools, tool_choice: { type: 'any' } }).finalMessage();
    expect(message.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^toolu_01/), name: 'get_weather', input: args }]);
    expect(message.stop_reason).toBe('tool_use');
  });

  it('an OpenAI client gets the tool call as tool_calls, streamed or not', async () => {
    const chatTools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: tools[0]!.input_schema as Record<string, unknown> } }];
    const plain = await openai().chat.completions.create({ model: 'sonnet', messages, tools: chatTools, tool_choice: 'required' });
    expect(plain.choices[0]!.finish_reason).toBe('tool_calls');
    expect(plain.choices[0]!.message.tool_calls).toEqual([{ id: expect.stringMatching(/^toolu_01/), type: 'function', function: { name: 'get_weather', arguments: JSON.stringify(args) } }]);
    expect(plain.usage?.completion_tokens).toBe(toolTokens);

    const stream = openai().chat.completions.stream({ model: 'sonnet', messages, tools: chatTools, tool_choice: 'required', stream_options: { include_usage: true } });
    const done = await stream.finalChatCompletion();
    expect(done.choices[0]!.finish_reason).toBe('tool_calls');
    expect(done.choices[0]!.message.tool_calls?.[0]?.function).toEqual({ name: 'get_weather', arguments: JSON.stringify(args) });
    expect(done.usage?.completion_tokens).toBe(toolTokens);
  });

  it('streams thinking (thinking and signature deltas) before the text, all of it charged as output', async () => {
    const stream = anthropic().messages.stream({
      model: 'sonnet',
      max_tokens: 3000,
      messages,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      ...({ mock_thinking_tokens: 30 } as object),
    });
    const deltas: string[] = [];
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta') deltas.push(e.delta.type);
    });
    const message = await stream.finalMessage();
    expect(message.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect((message.content[0] as Anthropic.ThinkingBlock).signature.length).toBeGreaterThan(20);
    expect(deltas.filter((t) => t === 'thinking_delta')).toHaveLength(30);
    expect(deltas.filter((t) => t === 'signature_delta')).toHaveLength(1);
    expect(message.usage.output_tokens).toBe(50);
    expect(await rowOf(stream.request_id)).toMatchObject({ outputTokens: 50, usageSource: 'provider', streamEnd: 'complete' });

    // Through the bridge the thinking is not shown (a chat completion has no place for it) but is charged.
    const chat = await openai().chat.completions.create({ model: 'sonnet', max_tokens: 3000, messages, ...({ thinking: { type: 'enabled', budget_tokens: 1024 }, mock_thinking_tokens: 30 } as object) });
    expect(chat.choices[0]!.message.content!.split(' ')).toHaveLength(20);
    expect(chat.usage?.completion_tokens).toBe(50);
  });
});
