// Tags from a chat request's `metadata` (SPEC §5) broke the call on OpenAI: chat completions refuse
// `metadata` unless the completion is stored ("The 'metadata' parameter is only allowed when 'store' is
// enabled.", a 400 from OpenAI and Azure OpenAI alike), and the gateway sent it on. Now it stays behind
// unless `store: true`, and is still recorded as the call's tags.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream, upstreamUrl } = useBehindMock({ latencyMs: 0, outputTokens: 6, apiKey: 'sk-up' }, (url) => `
providers: {openai: {type: openai, base_url: "${url}/v1", api_key: sk-up}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: openai/gpt-4o}]}}
keys: [{id: k, key: tg-k, project: p}]
`);

const messages = [{ role: 'user' as const, content: 'Say something.' }];
const client = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const sentMetadata = (): unknown[] => upstream().requests().map((r) => (r.body as Record<string, unknown>).metadata);

describe('metadata on chat completions', () => {
  it('is refused by the upstream without store, as by OpenAI', async () => {
    const direct = new OpenAI({ baseURL: `${upstreamUrl()}/v1`, apiKey: 'sk-up', maxRetries: 0 });
    const refused = await direct.chat.completions.create({ model: 'gpt-4o', messages, metadata: { feature: 'search' } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as Error).message).toContain("The 'metadata' parameter is only allowed when 'store' is enabled.");
  });

  it('tags the call and stays behind when the completion is not stored, streamed or not', async () => {
    upstream().clearRequests();
    const answer = await client().chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 20, metadata: { feature: 'search' } });
    expect(answer.choices[0]!.message.content).not.toBe('');
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, tags: { feature: 'search' } });
    const stream = await client().chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: false, metadata: { feature: 'chat' } });
    for await (const _ of stream);
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, tags: { feature: 'chat' } });
    expect(sentMetadata()).toEqual([undefined, undefined]);
  });

  it('goes on with store: true, where it labels the stored completion', async () => {
    upstream().clearRequests();
    await client().chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 20, store: true, metadata: { feature: 'search' } });
    expect(sentMetadata()).toEqual([{ feature: 'search' }]);
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, tags: { feature: 'search' } });
  });
});
