// Legacy completions with `echo: true` put each prompt before its completion; the prompt is billed as input.
// The gateway metered the echoed prompt as output: a stream was cut at its max_tokens partway through the
// echo (the client got the length finish and none of its completion), answers without the provider's usage
// were charged the prompt twice, and the scoring call of lm-eval's loglikelihood tasks (`echo`, `max_tokens:
// 0`, `logprobs`, a batch of prompts, against vLLM) was refused outright with a 400.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { countTextTokens } from '../src/tokens/index.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock(
  { latencyMs: 0, outputTokens: 8 },
  (url) => `
providers: {vllm: {type: openai, base_url: "${url}/v1"}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: instruct, model: vllm/gpt-3.5-turbo-instruct}]}}
keys: [{id: k, key: tg-k, project: p}]
`,
);

const MODEL = 'gpt-3.5-turbo-instruct';
const client = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
// Far longer than the completions' caps below, so an echo metered as output passes them.
const PROMPTS = ['Once upon a time, in a kingdom by the sea, there lived a king who counted every coin twice before he slept', 'The quick brown fox jumps over the lazy dog while the farmer watches from the window of the barn'];
const completionOf = (text: string, prompt: string): string => {
  expect(text.startsWith(prompt)).toBe(true);
  return text.slice(prompt.length);
};

describe('echo: true on /v1/completions', () => {
  it('streams every completion after its echoed prompt, charged for the completions only', async () => {
    for (const omitUsage of [false, true]) {
      const stream = await client().completions.create({ model: 'instruct', prompt: PROMPTS, echo: true, max_tokens: 5, stream: true, ...({ mock_omit_usage: omitUsage } as object) });
      const texts = ['', ''];
      const finishes: Array<string | null> = [null, null];
      for await (const chunk of stream) {
        for (const c of chunk.choices) {
          texts[c.index] += c.text;
          finishes[c.index] = c.finish_reason ?? finishes[c.index]!;
        }
      }
      const completions = texts.map((t, i) => completionOf(t, PROMPTS[i]!));
      expect(completions.map((c) => countTextTokens(c, MODEL))).toEqual([5, 5]);
      expect(finishes).toEqual(['length', 'length']);
      expect(gw().calls.at(-1)).toMatchObject({ status: 200, streamEnd: 'complete', usage: { output: 10, source: omitUsage ? 'estimated' : 'provider' } });
    }
  });

  it('charges an answer without usage from the provider for its completion, not the echo', async () => {
    const answer = await client().completions.create({ model: 'instruct', prompt: PROMPTS[0]!, echo: true, max_tokens: 6, ...({ mock_omit_usage: true } as object) });
    expect(countTextTokens(completionOf(answer.choices[0]!.text, PROMPTS[0]!), MODEL)).toBe(6);
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, usage: { output: 6, source: 'estimated' } });
  });

  it("takes lm-eval's scoring call, max_tokens 0 with echo, for a batch of prompts, streamed or not, and reserves no output", async () => {
    upstream().clearRequests();
    const scored = await client().completions.create({ model: 'instruct', prompt: PROMPTS, echo: true, max_tokens: 0, logprobs: 1, temperature: 0 });
    expect(scored.choices.map((c) => c.text)).toEqual(PROMPTS);
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, reserved: { output: 0 }, usage: { output: 0 } });
    const stream = await client().completions.create({ model: 'instruct', prompt: PROMPTS, echo: true, max_tokens: 0, stream: true, ...({ mock_omit_usage: true } as object) });
    const texts = ['', ''];
    for await (const chunk of stream) for (const c of chunk.choices) texts[c.index] += c.text;
    expect(texts).toEqual(PROMPTS);
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, streamEnd: 'complete', reserved: { output: 0 }, usage: { output: 0 } });
    expect(upstream().requests().map((r) => (r.body as { max_tokens?: number }).max_tokens)).toEqual([0, 0]);
  });

  it('still refuses max_tokens 0 without echo, which could only generate nothing', async () => {
    const refused = await client().completions.create({ model: 'instruct', prompt: PROMPTS[0]!, max_tokens: 0 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('max_tokens');
  });
});
