// Tags from `metadata` (SPEC §5) on legacy completions and embeddings broke the call on OpenAI: neither
// endpoint has a `metadata` parameter (CompletionCreateParams, EmbeddingCreateParams), and OpenAI refuses
// an unknown body field with "Unrecognized request argument supplied: metadata". The gateway sent it on.
// Now it stays behind there and is still recorded as the call's tags; the Responses API, which takes
// `metadata` to label the response, still gets it.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream, upstreamUrl } = useBehindMock({ latencyMs: 0, outputTokens: 6, apiKey: 'sk-up' }, (url) => `
providers: {openai: {type: openai, base_url: "${url}/v1", api_key: sk-up}}
projects: {p: {daily_limit: 1000000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: openai/gpt-4o}, {model_id: gpt-3.5-turbo-instruct, model: openai/gpt-3.5-turbo-instruct}]
    embedding_models: [{model_id: text-embedding-3-small, model: openai/text-embedding-3-small}]
keys: [{id: k, key: tg-k, project: p}]
`);

const metadata = { feature: 'search' };
const client = (baseURL = `${gw().url}/v1`, apiKey = 'tg-k'): OpenAI => new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const sentMetadata = (): unknown[] => upstream().requests().map((r) => (r.body as Record<string, unknown>).metadata);
// The SDK's types have no `metadata` on these endpoints; callers that send it anyway (from JS, or any
// HTTP client) are what the gateway must serve.
const completionWith = (extra: object): OpenAI.CompletionCreateParamsNonStreaming => ({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say something.', max_tokens: 5, ...extra }) as OpenAI.CompletionCreateParamsNonStreaming;
const embeddingWith = (extra: object): OpenAI.EmbeddingCreateParams => ({ model: 'text-embedding-3-small', input: 'hello', ...extra }) as OpenAI.EmbeddingCreateParams;

describe('metadata on endpoints that have no such parameter', () => {
  it('is refused by the upstream, with OpenAI error shape', async () => {
    const direct = client(`${upstreamUrl()}/v1`, 'sk-up');
    for (const call of [() => direct.completions.create(completionWith({ metadata })), () => direct.embeddings.create(embeddingWith({ metadata }))]) {
      const refused = await call().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as InstanceType<typeof OpenAI.BadRequestError>).error).toEqual({
        message: 'Unrecognized request argument supplied: metadata',
        type: 'invalid_request_error',
        param: null,
        code: null,
      });
    }
  });

  it('tags a legacy completion, streamed or not, and stays behind', async () => {
    upstream().clearRequests();
    const answer = await client().completions.create(completionWith({ metadata }));
    expect(answer.choices[0]!.text).not.toBe('');
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, tags: { feature: 'search' } });
    const stream = await client().completions.create({ ...completionWith({ metadata: { feature: 'autocomplete' } }), stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).not.toBe('');
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, tags: { feature: 'autocomplete' } });
    expect(sentMetadata()).toEqual([undefined, undefined]);
  });

  it('tags an embedding and stays behind', async () => {
    upstream().clearRequests();
    const answer = await client().embeddings.create(embeddingWith({ metadata: { feature: 'rag' } }));
    expect(answer.data[0]!.embedding.length).toBeGreaterThan(0);
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, tags: { feature: 'rag' } });
    expect(sentMetadata()).toEqual([undefined]);
  });

  it('goes on to the Responses API, which labels the response with it', async () => {
    upstream().clearRequests();
    const answer = await client().responses.create({ model: 'gpt-4o', input: 'Say something.', max_output_tokens: 20, metadata });
    expect(answer.metadata).toEqual(metadata);
    expect(sentMetadata()).toEqual([metadata]);
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, tags: { feature: 'search' } });
  });
});
