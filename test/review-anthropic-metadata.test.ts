// Tags from a Messages request's `metadata` (SPEC §5) broke the call on Anthropic: its `metadata` takes
// `user_id` alone and refuses any other key with a 400 ("metadata.feature: Extra inputs are not permitted",
// as reported against proxies that sent theirs on, e.g. BerriAI/litellm#12083), and the gateway sent the
// client's tags on. Now only `user_id` goes upstream; every key is still recorded as the call's tags.
import Anthropic from '@anthropic-ai/sdk';
import { beforeEach, describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const MODEL = 'claude-sonnet-4-20250514';

const { gw, upstream, upstreamUrl } = useBehindMock({ latencyMs: 0, outputTokens: 6, apiKey: 'sk-ant-up' }, (url) => `
providers: {claude: {type: anthropic, base_url: "${url}", api_key: sk-ant-up}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: claude-sonnet-4, model: claude/${MODEL}}]}}
keys: [{id: k, key: tg-k, project: p}]
`);
beforeEach(() => upstream().clearRequests());

// Straight to the mock: it reads the key from x-api-key alone (the SDK 1.x sends it as a bearer token too).
const direct = (headers: Record<string, string> = {}): Anthropic =>
  new Anthropic({ baseURL: upstreamUrl(), apiKey: 'sk-ant-up', maxRetries: 0, defaultHeaders: { 'x-api-key': 'sk-ant-up', ...headers } });
const messages = [{ role: 'user' as const, content: 'Say something.' }];
const client = (): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: 'tg-k', maxRetries: 0 });
// The SDK types `metadata` as Anthropic's ({user_id}); tags are extra keys.
const tagged = (metadata: Record<string, string | null>) => ({ metadata }) as { metadata: Anthropic.Metadata };
const sentMetadata = (): unknown[] => upstream().requests().map((r) => (r.body as Record<string, unknown>).metadata);

describe('metadata on /v1/messages', () => {
  it('is refused by the upstream with any key but user_id, as by Anthropic', async () => {
    const upstreamClient = direct();
    const refused = await upstreamClient.messages.create({ model: MODEL, max_tokens: 20, messages, ...tagged({ user_id: 'u-1', feature: 'search' }) }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'metadata.feature: Extra inputs are not permitted' } });
    const plain = await upstreamClient.messages.create({ model: MODEL, max_tokens: 20, messages, metadata: { user_id: 'u-1' } });
    expect(plain.type).toBe('message');
  });

  it('tags the call and sends on user_id alone, streamed or not', async () => {
    const answer = await client().messages.create({ model: 'claude-sonnet-4', max_tokens: 20, messages, ...tagged({ user_id: 'u-1', feature: 'search' }) });
    expect(answer.content[0]).toMatchObject({ type: 'text' });
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, tags: { user_id: 'u-1', feature: 'search' } });
    const stream = client().messages.stream({ model: 'claude-sonnet-4', max_tokens: 20, messages, ...tagged({ feature: 'chat', env: 'staging' }) });
    expect((await stream.finalMessage()).stop_reason).toBe('end_turn');
    expect(gw().calls.at(-1)).toMatchObject({ status: 200, tags: { feature: 'chat', env: 'staging' } });
    // No user_id: nothing is left to send.
    expect(sentMetadata()).toEqual([{ user_id: 'u-1' }, undefined]);
  });

  it('goes on as sent when it holds user_id alone', async () => {
    await client().messages.create({ model: 'claude-sonnet-4', max_tokens: 20, messages, metadata: { user_id: 'u-2' } });
    await client().messages.create({ model: 'claude-sonnet-4', max_tokens: 20, messages, metadata: { user_id: null } });
    expect(sentMetadata()).toEqual([{ user_id: 'u-2' }, { user_id: null }]);
    expect(gw().calls.at(-1)?.status).toBe(200);
  });
});
