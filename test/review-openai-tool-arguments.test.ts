// Strict function calling with the SDK's `zodFunction` helper: `chat.completions.parse` parses each tool
// call's arguments with the function's zod schema. The mock upstream made arguments one level deep only
// ('mock' for every string, {} for an object, [] for an array, 'mock' for a nullable enum), so a nested
// schema failed the SDK's own parse with a ZodError on every call (when.day and when.hour missing, tags
// below its min(1), unit not one of its values). It now answers with arguments the schema accepts.
import OpenAI from 'openai';
import { zodFunction } from 'openai/helpers/zod';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import type { MockUpstream } from '../src/mock-upstream/index.js';
import { startGpt4oBehindMock, stopBehindMock, type TestGateway } from './helpers/in-process.js';

let upstream: MockUpstream;
let gw: TestGateway;

beforeAll(async () => {
  ({ upstream, gw } = await startGpt4oBehindMock(8));
});
afterAll(() => stopBehindMock(gw, upstream));

const client = (): OpenAI => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const Lookup = z.object({
  city: z.string(),
  when: z.object({ day: z.string(), hour: z.number() }),
  tags: z.array(z.string()).min(1),
  unit: z.enum(['c', 'f']).nullable(),
});
const Book = z.object({ room: z.object({ floor: z.number().int(), wing: z.enum(['east', 'west']) }), guests: z.array(z.object({ name: z.string() })).min(2) });

it('parse() with zodFunction tools: every call’s arguments pass the function’s schema, streamed or not', async () => {
  const tools = [zodFunction({ name: 'lookup', parameters: Lookup }), zodFunction({ name: 'book', parameters: Book })];
  const messages = [{ role: 'user' as const, content: 'Plan it.' }];
  const answer = await client().chat.completions.parse({ model: 'gpt-4o', messages, tools, tool_choice: 'required' });
  const calls = answer.choices[0]!.message.tool_calls!;
  expect(calls.map((c) => c.function.name)).toEqual(['lookup', 'book']);
  expect(Lookup.safeParse(calls[0]!.function.parsed_arguments).success).toBe(true);
  expect(Book.safeParse(calls[1]!.function.parsed_arguments).success).toBe(true);

  const final = await client().chat.completions.stream({ model: 'gpt-4o', messages, tools, tool_choice: 'required' }).finalChatCompletion();
  const streamed = final.choices[0]!.message.tool_calls!;
  expect(Lookup.safeParse(streamed[0]!.function.parsed_arguments).success).toBe(true);
  expect(Book.safeParse(streamed[1]!.function.parsed_arguments).success).toBe(true);
});

it('runTools(): left free to choose (auto), the model answers in text once it has the tools’ results', async () => {
  let ran = 0;
  const runner = client().chat.completions.runTools({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'What is the weather?' }],
    tools: [{ type: 'function', function: { name: 'get_weather', description: 'The weather in a city.', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, function: () => ((ran += 1), 'sunny'), parse: JSON.parse } }],
    ...({ mock_tool_use: true } as object),
  });
  const text = await runner.finalContent();
  expect(ran).toBe(1);
  expect(text).toBeTypeOf('string');
  expect(gw.calls.slice(-2).map((c) => c.status)).toEqual([200, 200]);
  expect(runner.messages.filter((m) => 'role' in m && m.role === 'assistant')).toHaveLength(2);
});
