// Function calling on the Responses API through the gateway with the official SDK, the way agent apps run
// it every day. The mock upstream answered every Responses request in text, `tools` and `tool_choice:
// "required"` or not, so no `function_call` item, `response.function_call_arguments.*` event or the
// gateway's handling of them (metering, the cut at an output limit) was ever exercised against it. It now
// answers as OpenAI does. Cut at a limit mid-call, the gateway's own closing events are held to the
// API's shape too: `response.function_call_arguments.done` names the function (the SDK declares `name`
// required since 6.18), and the usage of its `response.incomplete` has `input_tokens_details.cache_write_tokens`
// (required in SDK 6.49's ResponseUsage), which an app summing cache figures otherwise reads as undefined.
import OpenAI from 'openai';
import { zodResponsesFunction } from 'openai/helpers/zod';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SseParser } from '../src/providers/sse/index.js';
import { countTextTokens } from '../src/tokens/index.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const CUT = 8;

const { gw } = useBehindMock({ latencyMs: 0, outputTokens: 8, apiKey: 'sk-up' }, (url) => `
providers: {openai: {type: openai, base_url: "${url}/v1", api_key: sk-up}}
projects: {p: {daily_limit: 1000000}}
routes:
  r: {chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1}]}
  narrow:
    chat_models: [{model_id: gpt-4.1-narrow, model: openai/gpt-4.1}]
    token_limiting: {scope: user, output: {algorithm: fixed_window, window_size: 1 hour, max_token: ${CUT}}}
keys: [{id: k, key: tg-k, project: p, routes: [r]}, {id: n, key: tg-n, project: p, routes: [narrow]}]
`);

const client = (key = 'tg-k'): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
const tools: OpenAI.Responses.FunctionTool[] = [
  { type: 'function', name: 'get_weather', strict: true, parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'], additionalProperties: false } },
  { type: 'function', name: 'get_time', strict: true, parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } },
];
const callCost = (items: { name: string; arguments: string }[]): number => items.reduce((s, c) => s + countTextTokens(c.name + c.arguments, 'gpt-4.1'), 0);

describe('function calls on /v1/responses', () => {
  it('come back as function_call items, metered at the provider’s usage', async () => {
    const res = await client().responses.create({ model: 'gpt-4.1', input: 'Weather and time in Paris?', tools, tool_choice: 'required' });
    const calls = res.output.filter((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === 'function_call');
    expect(calls.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
    for (const c of calls) {
      expect(c.call_id).toMatch(/^call_/);
      expect(JSON.parse(c.arguments)).toBeTypeOf('object');
    }
    expect(res.usage?.output_tokens).toBe(callCost(calls));
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, usage: { output: callCost(calls), source: 'provider' } });
  });

  it('a named function is the one call; parallel_tool_calls: false makes one', async () => {
    const named = await client().responses.create({ model: 'gpt-4.1', input: 'Time?', tools, tool_choice: { type: 'function', name: 'get_time' } });
    expect(named.output.map((o) => (o.type === 'function_call' ? o.name : o.type))).toEqual(['get_time']);
    const one = await client().responses.create({ model: 'gpt-4.1', input: 'Both?', tools, tool_choice: 'required', parallel_tool_calls: false });
    expect(one.output).toHaveLength(1);
  });

  it('parse() with zodResponsesFunction gives arguments the schema accepts', async () => {
    const Lookup = z.object({ city: z.string(), when: z.object({ day: z.string() }), unit: z.enum(['c', 'f']).nullable() });
    const res = await client().responses.parse({ model: 'gpt-4.1', input: 'Look it up.', tools: [zodResponsesFunction({ name: 'lookup', parameters: Lookup })], tool_choice: 'required' });
    const call = res.output.find((o) => o.type === 'function_call');
    expect(call && 'parsed_arguments' in call && Lookup.safeParse(call.parsed_arguments).success).toBe(true);
  });

  it('stream in argument fragments the SDK reassembles, and finalResponse() has the calls', async () => {
    const stream = client().responses.stream({ model: 'gpt-4.1', input: 'Weather and time in Paris?', tools, tool_choice: 'required' });
    let deltas = '';
    const done: { name: string; arguments: string }[] = [];
    stream.on('response.function_call_arguments.delta', (e) => (deltas += e.delta));
    stream.on('response.function_call_arguments.done', (e) => done.push({ name: e.name, arguments: e.arguments }));
    const final = await stream.finalResponse();
    const calls = final.output.flatMap((o) => (o.type === 'function_call' ? [{ name: o.name, arguments: o.arguments }] : []));
    expect(done).toEqual(calls.map((c) => ({ name: c.name, arguments: c.arguments })));
    expect(deltas).toBe(calls.map((c) => c.arguments).join(''));
    expect(gw().calls.at(-1)).toMatchObject({ usage: { output: callCost(calls), source: 'provider' } });
  });
});

describe('a function call cut at an output limit', () => {
  it('ends with the API’s closing events: the arguments’ .done names the function, the usage has every detail', async () => {
    const res = await fetch(`${gw().url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tg-n' },
      body: JSON.stringify({ model: 'gpt-4.1-narrow', input: 'Weather and time in Paris?', tools, tool_choice: 'required', stream: true }),
    });
    const events = new SseParser().push(Buffer.from(await res.text())).map((ev) => JSON.parse(ev.data) as Record<string, any>);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const ending = events.slice(-3);
    expect(ending.map((e) => e.type)).toEqual(['response.function_call_arguments.done', 'response.output_item.done', 'response.incomplete']);
    expect(ending[0]).toMatchObject({ name: 'get_weather', arguments: ending[1].item.arguments });
    expect(ending[1].item).toMatchObject({ type: 'function_call', name: 'get_weather', status: 'incomplete' });
    const usage = ending[2].response.usage;
    expect(usage.output_tokens).toBe(CUT);
    expect(usage.input_tokens_details).toEqual({ cached_tokens: 0, cache_write_tokens: 0 });
    expect(gw().calls.at(-1)).toMatchObject({ usage: { output: CUT } });
  });
});
