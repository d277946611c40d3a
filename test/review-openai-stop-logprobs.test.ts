// `stop` and `logprobs` through the gateway with the official SDK. The mock upstream ignored both: an
// answer ran on through its stop sequence (and was billed for the words after it), and `logprobs: true`
// came back `logprobs: null`, so an app reading `choices[0].logprobs.content` (or the stream helper's
// accumulated logprobs) got nothing. It now answers as OpenAI does: the text ends before the first stop
// sequence (`finish_reason: "stop"`, the sequence not returned), and each generated token has its entry,
// with `top_logprobs` alternatives, streamed chunk by chunk.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockUpstream } from '../src/mock-upstream/index.js';
import { MOCK_WORDS } from '../src/providers/mock/mock-text.js';
import { startGpt4oBehindMock, stopBehindMock, type TestGateway } from './helpers/in-process.js';

let upstream: MockUpstream;
let gw: TestGateway;

beforeAll(async () => {
  ({ upstream, gw } = await startGpt4oBehindMock(12));
});
afterAll(() => stopBehindMock(gw, upstream));

const client = (): OpenAI => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'Say something.' }];
// The mock's answer is its words in order: a stop sequence on the fourth word ends the text before it.
const stopWord = ` ${MOCK_WORDS[3]}`;
const beforeStop = MOCK_WORDS.slice(0, 3).join(' ');

describe('stop', () => {
  it('ends a chat answer before the sequence, billed up to the token that completed it', async () => {
    const answer = await client().chat.completions.create({ model: 'gpt-4o', messages, stop: [stopWord, 'never said'] });
    expect(answer.choices[0]!.message.content).toBe(beforeStop);
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    expect(answer.usage?.completion_tokens).toBe(4);
    expect(gw.calls.at(-1)).toMatchObject({ usage: { output: 4, source: 'provider' } });
  });

  it('ends a streamed chat answer the same way, for each of n choices', async () => {
    const final = await client().chat.completions.stream({ model: 'gpt-4o', messages, stop: stopWord, n: 2, stream_options: { include_usage: true } }).finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe(beforeStop);
    expect(final.choices[0]!.finish_reason).toBe('stop');
    for (const choice of final.choices) expect(choice.message.content).not.toContain(stopWord);
    expect(gw.calls.at(-1)).toMatchObject({ usage: { output: final.usage!.completion_tokens, source: 'provider' } });
    expect(final.usage!.completion_tokens).toBeLessThan(24);
  });

  it('ends a legacy completion before the sequence, streamed or not', async () => {
    const plain = await client().completions.create({ model: 'gpt-4o', prompt: 'Say something.', stop: [stopWord] });
    expect(plain.choices[0]!.text).toBe(beforeStop);
    expect(plain.usage?.completion_tokens).toBe(4);
    let streamed = '';
    for await (const chunk of await client().completions.create({ model: 'gpt-4o', prompt: 'Say something.', stop: stopWord, stream: true })) streamed += chunk.choices[0]?.text ?? '';
    expect(streamed).toBe(beforeStop);
  });
});

describe('logprobs', () => {
  it('gives each generated token its entry and top_logprobs alternatives', async () => {
    const answer = await client().chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 5, logprobs: true, top_logprobs: 3 });
    const content = answer.choices[0]!.logprobs?.content;
    expect(content?.map((e) => e.token).join('')).toBe(answer.choices[0]!.message.content);
    expect(content).toHaveLength(answer.usage!.completion_tokens);
    for (const entry of content!) {
      expect(entry.logprob).toBeLessThanOrEqual(0);
      expect(Buffer.from(entry.bytes!).toString('utf8')).toBe(entry.token);
      expect(entry.top_logprobs).toHaveLength(3);
      expect(entry.top_logprobs[0]!.token).toBe(entry.token);
    }
  });

  it('streams each token’s entry with its chunk, which the SDK helper accumulates', async () => {
    const final = await client().chat.completions.stream({ model: 'gpt-4o', messages, max_tokens: 6, logprobs: true, top_logprobs: 1 }).finalChatCompletion();
    const content = final.choices[0]!.logprobs?.content;
    expect(content?.map((e) => e.token).join('')).toBe(final.choices[0]!.message.content);
    expect(content).toHaveLength(6);
  });

  it('on /v1/responses, include message.output_text.logprobs fills the text part’s logprobs, streamed or not', async () => {
    const res = await client().responses.create({ model: 'gpt-4o', input: 'Say something.', max_output_tokens: 16, include: ['message.output_text.logprobs'], top_logprobs: 2 });
    const part = res.output[0]!.type === 'message' ? res.output[0]!.content[0] : undefined;
    const logprobs = part?.type === 'output_text' ? part.logprobs : undefined;
    expect(logprobs?.map((e) => e.token).join('')).toBe(res.output_text);
    expect(logprobs).toHaveLength(res.usage!.output_tokens);
    expect(logprobs!.every((e) => e.top_logprobs.length === 2)).toBe(true);
    const stream = client().responses.stream({ model: 'gpt-4o', input: 'Say something.', include: ['message.output_text.logprobs'] });
    let streamed = 0;
    stream.on('response.output_text.delta', (e) => (streamed += e.logprobs.length));
    const final = await stream.finalResponse();
    expect(streamed).toBe(final.usage!.output_tokens);
  });

  it('stay null when not asked for', async () => {
    const answer = await client().chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 3 });
    expect(answer.choices[0]!.logprobs).toBeNull();
  });
});
