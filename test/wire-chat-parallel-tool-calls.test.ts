// Chat completions that call tools, parallel calls streamed included, through the gateway with the official
// SDK: the mock upstream answered every request in text, tool_choice or not, so nothing here was exercised.
// It now answers as OpenAI does (tool_calls, finish_reason `tool_calls`, or `stop` for a named function;
// streamed as an opening chunk per call and its arguments in fragments), and the gateway is held to relay the
// calls intact and to meter them: by the provider's usage, or by its own count when the stream has none.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockUpstream } from '../src/mock-upstream/index.js';
import { countTextTokens } from '../src/tokens/index.js';
import { startGpt4oBehindMock, stopBehindMock, type TestGateway } from './helpers/in-process.js';

let upstream: MockUpstream;
let gw: TestGateway;

beforeAll(async () => {
  ({ upstream, gw } = await startGpt4oBehindMock(6));
});
afterAll(() => stopBehindMock(gw, upstream));

const client = (): OpenAI => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'Weather and time in Paris?' }];
const tools: OpenAI.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'] } } },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
];
const expectedCalls = [
  { name: 'get_weather', arguments: '{"city":"mock","unit":"celsius"}' },
  { name: 'get_time', arguments: '{"city":"mock"}' },
];
// What the calls cost as output: their names and arguments, as the mock bills them.
const callTokens = expectedCalls.reduce((sum, c) => sum + countTextTokens(c.name + c.arguments, 'gpt-4o'), 0);

describe('parallel tool calls', () => {
  it('come back whole, not streamed, and are metered at the provider’s usage', async () => {
    const answer = await client().chat.completions.create({ model: 'gpt-4o', messages, tools, tool_choice: 'required', max_tokens: 100 });
    const choice = answer.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls?.map((c) => (c.type === 'function' ? { name: c.function.name, arguments: c.function.arguments } : c))).toEqual(expectedCalls);
    expect(answer.usage?.completion_tokens).toBe(callTokens);
    expect(gw.calls.at(-1)).toMatchObject({ status: 200, usage: { output: callTokens, source: 'provider' } });
  });

  it('stream in fragments the SDK reassembles, each call opened once with its id', async () => {
    const stream = client().chat.completions.stream({ model: 'gpt-4o', messages, tools, tool_choice: 'required', max_tokens: 100 });
    let openings = 0;
    stream.on('chunk', (chunk) => {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) if (call.id) openings++;
    });
    const final = await stream.finalChatCompletion();
    expect(openings).toBe(2);
    const calls = final.choices[0]!.message.tool_calls!;
    expect(calls.map((c) => (c.type === 'function' ? { name: c.function.name, arguments: c.function.arguments } : c))).toEqual(expectedCalls);
    expect(new Set(calls.map((c) => c.id)).size).toBe(2);
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    // The gateway asked for the usage chunk itself, and read the provider's count from it.
    expect(gw.calls.at(-1)).toMatchObject({ status: 200, stream: true, usage: { output: callTokens, source: 'provider' } });
  });

  it('are counted by the gateway when the stream reports no usage', async () => {
    const body = { model: 'gpt-4o', messages, tools, tool_choice: 'required', max_tokens: 100, stream: true, mock_omit_usage: true } as OpenAI.ChatCompletionCreateParamsStreaming;
    for await (const _ of await client().chat.completions.create(body));
    const usage = gw.calls.at(-1)!.usage!;
    expect(usage.source).not.toBe('provider');
    // Names and arguments are output: counted, not billed as nothing (JSON framing may add a little).
    expect(usage.output).toBeGreaterThanOrEqual(callTokens);
    expect(usage.output).toBeLessThanOrEqual(callTokens + 10);
  });

  it('are cut at the cap as text is: finish_reason `length`, never more output than granted', async () => {
    const answer = await client().chat.completions.create({ model: 'gpt-4o', messages, tools, tool_choice: 'required', max_tokens: 5 });
    const choice = answer.choices[0]!;
    expect(choice.finish_reason).toBe('length');
    expect(answer.usage?.completion_tokens).toBe(5);
    const first = choice.message.tool_calls![0]!;
    expect(first.type === 'function' && first.function.name).toBe('get_weather');
    expect(first.type === 'function' && expectedCalls[0]!.arguments.startsWith(first.function.arguments) && first.function.arguments.length < expectedCalls[0]!.arguments.length).toBe(true);
    expect(gw.calls.at(-1)).toMatchObject({ status: 200, usage: { output: 5, source: 'provider' } });
  });

  it('is one call with parallel_tool_calls: false, and a named function finishes with `stop`', async () => {
    const one = await client().chat.completions.create({ model: 'gpt-4o', messages, tools, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 100 });
    expect(one.choices[0]!.message.tool_calls).toHaveLength(1);
    const named = await client().chat.completions.create({ model: 'gpt-4o', messages, tools, tool_choice: { type: 'function', function: { name: 'get_time' } }, max_tokens: 100 });
    expect(named.choices[0]!.finish_reason).toBe('stop');
    expect(named.choices[0]!.message.tool_calls?.map((c) => (c.type === 'function' ? c.function.name : ''))).toEqual(['get_time']);
    const text = await client().chat.completions.create({ model: 'gpt-4o', messages, tools, max_tokens: 100 });
    expect(text.choices[0]!.message.tool_calls).toBeUndefined();
    expect(upstream.requests().length).toBeGreaterThan(0);
  });
});
