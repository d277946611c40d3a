// Structured outputs through the gateway with the official SDK's helpers: `client.chat.completions.parse`
// and `.stream()` with `zodResponseFormat`, `client.responses.parse` and `.stream()` with `zodTextFormat`.
// The mock upstream answered every such request in prose ("the model will stream ..."), so the SDK's own
// JSON.parse threw a SyntaxError on every call: an app's daily path could not be run against the mock
// at all. It now answers as OpenAI does: a JSON document that follows the request's schema (every
// property, as strict mode requires), and `json_object` with a JSON object.
import OpenAI from 'openai';
import { LengthFinishReasonError } from 'openai/core/error';
import { zodResponseFormat, zodTextFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { MockUpstream } from '../src/mock-upstream/index.js';
import { countTextTokens } from '../src/tokens/index.js';
import { startGpt4oBehindMock, stopBehindMock, type TestGateway } from './helpers/in-process.js';

let upstream: MockUpstream;
let gw: TestGateway;

beforeAll(async () => {
  ({ upstream, gw } = await startGpt4oBehindMock(8, 'gpt-4o-2024-08-06'));
});
afterAll(() => stopBehindMock(gw, upstream));

const client = (): OpenAI => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'Extract the event.' }];
// Nested objects, an array of objects, an enum, a nullable field and a shared definition: what zod apps send.
const Person = z.object({ name: z.string(), age: z.number().int() });
const Event = z.object({
  title: z.string(),
  kind: z.enum(['meeting', 'call']),
  attendees: z.array(Person),
  host: Person,
  room: z.string().nullable(),
  confirmed: z.boolean(),
});

describe('chat completions with response_format json_schema', () => {
  it('parse(): the answer is JSON that the zod schema accepts, and it is metered at the provider’s usage', async () => {
    const answer = await client().chat.completions.parse({ model: 'gpt-4o', messages, response_format: zodResponseFormat(Event, 'event') });
    const choice = answer.choices[0]!;
    expect(choice.finish_reason).toBe('stop');
    expect(Event.safeParse(choice.message.parsed).success).toBe(true);
    expect(answer.usage?.completion_tokens).toBe(countTextTokens(choice.message.content!, 'gpt-4o-2024-08-06'));
    expect(gw.calls.at(-1)).toMatchObject({ status: 200, usage: { output: answer.usage!.completion_tokens, source: 'provider' } });
  });

  it('stream(): the streamed fragments add up to the same parsed object, and each of n choices gets one', async () => {
    const stream = client().chat.completions.stream({ model: 'gpt-4o', messages, n: 2, response_format: zodResponseFormat(Event, 'event') });
    const final = await stream.finalChatCompletion();
    expect(final.choices).toHaveLength(2);
    for (const choice of final.choices) expect(Event.safeParse(choice.message.parsed).success).toBe(true);
  });

  it('a recursive schema (a tree of nodes) is answered with a finite tree the schema accepts', async () => {
    interface Node { name: string; children: Node[] }
    const Tree: z.ZodType<Node> = z.object({ name: z.string(), get children() { return z.array(Tree); } });
    const answer = await client().chat.completions.parse({ model: 'gpt-4o', messages, response_format: zodResponseFormat(z.object({ root: Tree }), 'tree') });
    expect(Tree.safeParse(answer.choices[0]!.message.parsed?.root).success).toBe(true);
  });

  it('json_object: the answer is a JSON object', async () => {
    const answer = await client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Reply in JSON.' }], response_format: { type: 'json_object' } });
    const parsed: unknown = JSON.parse(answer.choices[0]!.message.content!);
    expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
  });

  it('a cap that cuts the JSON ends with finish_reason length, which parse() reports as the SDK does', async () => {
    const cut = client().chat.completions.parse({ model: 'gpt-4o', messages, max_tokens: 5, response_format: zodResponseFormat(Event, 'event') });
    await expect(cut).rejects.toBeInstanceOf(LengthFinishReasonError);
  });
});

describe('responses with text.format json_schema', () => {
  it('parse(): output_parsed is the schema’s object', async () => {
    const res = await client().responses.parse({ model: 'gpt-4o', input: 'Extract the event.', text: { format: zodTextFormat(Event, 'event') } });
    expect(res.status).toBe('completed');
    expect(Event.safeParse(res.output_parsed).success).toBe(true);
    expect(res.usage?.output_tokens).toBe(countTextTokens(res.output_text, 'gpt-4o-2024-08-06'));
  });

  it('stream(): finalResponse() carries the parsed object, and the response echoes the format asked for', async () => {
    const stream = client().responses.stream({ model: 'gpt-4o', input: 'Extract the event.', text: { format: zodTextFormat(Event, 'event') } });
    const res = await stream.finalResponse();
    expect(Event.safeParse(res.output_parsed).success).toBe(true);
    expect(res.text?.format).toMatchObject({ type: 'json_schema', name: 'event' });
    expect(gw.calls.at(-1)).toMatchObject({ status: 200, usage: { output: res.usage!.output_tokens, source: 'provider' } });
  });
});
