// A reasoning model under a name the gateway does not know as one (an Azure deployment `my-reasoner`)
// refuses the `max_tokens` the gateway adds to a call without a cap, as OpenAI's o-series and gpt-5 do.
// Relayed, that 400 failed every such call, though the client sent nothing wrong: the call is sent once
// more with `max_completion_tokens`, and later calls to the model go with it, and with the reasoning
// default allowance, from the start.
import OpenAI from 'openai';
import { expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock(
  { latencyMs: 0, outputTokens: 9 },
  (url) => `
providers: {azure: {type: openai, base_url: "${url}/v1", api_key: sk-up}}
projects: {p: {daily_limit: 1000000}}
enforcement: {default_max_tokens: 500, reasoning_default_max_tokens: 2000}
routes: {r: {chat_models: [{model_id: reasoner, model: azure/my-reasoner}, {model_id: plain, model: azure/my-plain}]}}
keys: [{id: k, key: tg-k, project: p}]
`,
);

const client = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
type Sent = { max_tokens?: number; max_completion_tokens?: number };
const caps = (): Sent[] => upstream().requests().map((r) => ({ max_tokens: (r.body as Sent).max_tokens, max_completion_tokens: (r.body as Sent).max_completion_tokens }));
const ask = (model: string, extra: object = {}) =>
  client().chat.completions.create({ model, messages: [{ role: 'user', content: 'Think.' }], mock_refuse_max_tokens: true, ...extra } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);

it('a call without a cap is sent again with max_completion_tokens, once; the model is then known to take it', async () => {
  upstream().clearRequests();
  const first = await ask('reasoner');
  expect(first.choices[0].message.content?.split(' ')).toHaveLength(9);
  expect(caps()).toEqual([{ max_tokens: 500, max_completion_tokens: undefined }, { max_tokens: undefined, max_completion_tokens: 500 }]);
  expect(gw().calls.at(-1)).toMatchObject({ status: 200, usage: { output: 9, source: 'provider' } });

  upstream().clearRequests();
  const stream = await client().chat.completions.create({ model: 'reasoner', messages: [{ role: 'user', content: 'Think.' }], stream: true, mock_refuse_max_tokens: true } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
  for await (const _ of stream);
  // Known now: one request, with the reasoning default as its cap.
  expect(caps()).toEqual([{ max_tokens: undefined, max_completion_tokens: 2000 }]);
});

it('a refusal of a cap the client sent itself is the client\'s answer, relayed as it came', async () => {
  upstream().clearRequests();
  const err = await ask('plain', { max_tokens: 50 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain("Use 'max_completion_tokens' instead");
  expect(caps()).toEqual([{ max_tokens: 50, max_completion_tokens: undefined }]);
});

it('another 400 of a call the gateway capped is relayed as it came, not sent again', async () => {
  upstream().clearRequests();
  const err = await client()
    .chat.completions.create({ model: 'plain', messages: [{ role: 'user', content: 'Hi.' }], mock_error_status: 400 } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  expect(upstream().requests()).toHaveLength(1);
});
