// `stream_options: null` is "no options" (clients that serialise unset fields send it: pydantic models,
// LangChain). The gateway turned it into `{include_usage: true}` like any stream, but took the field for the
// client's own: an upstream refusing stream_options (Azure before api-version 2024-06-01) then failed the
// call with a 400, where the gateway retries without the field for a client that sent none.
import OpenAI from 'openai';
import { expect, it } from 'vitest';
import { countTextTokens } from '../src/tokens/index.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock(
  { latencyMs: 0, outputTokens: 9 },
  (url) => `
providers: {azure: {type: openai, base_url: "${url}/v1", api_key: sk-up}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: azure/gpt-4o}]}}
keys: [{id: k, key: tg-k, project: p}]
`,
);

it('a stream with stream_options: null to an upstream that refuses the field is retried without it, as one that sent none', async () => {
  upstream().clearRequests();
  const client = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
  const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Say something.' }], stream: true, stream_options: null, mock_refuse_stream_options: true };
  const stream = await client.chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
  let text = '';
  let usageChunks = 0;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    if (chunk.usage) usageChunks++;
  }
  expect(text.split(' ')).toHaveLength(9);
  expect(usageChunks).toBe(0);
  expect(upstream().requests().map((r) => (r.body as { stream_options?: unknown }).stream_options)).toEqual([{ include_usage: true }, undefined]);
  expect(gw().calls.at(-1)).toMatchObject({ status: 200, usage: { output: countTextTokens(text, 'gpt-4o'), source: 'estimated' } });
});
