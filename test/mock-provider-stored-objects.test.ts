// The in-process `mock` provider (the quick start's) keeps what it made as the mock upstream does: stored
// responses for the retrieval endpoints, conversations for the Conversations API; the gateway serves both
// only to the project that made them.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { until } from './helpers/until.js';
import { useTestGateway } from './helpers/use-test-gateway.js';

const local = useTestGateway(`
providers: {m: {type: mock}}
projects: {p: {daily_limit: 100000}, q: {daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: gpt-4.1, model: m/gpt-4.1}]}}
keys: [{id: a, key: tg-a, project: p}, {id: b, key: tg-b, project: q}]
`);

const client = (key: string) => new OpenAI({ baseURL: `${local().url}/v1`, apiKey: key, maxRetries: 0 });

describe('the in-process mock provider', () => {
  it('serves the retrieval endpoints for the responses it made', async () => {
    const created = await client('tg-a').responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 50 });
    expect((await client('tg-a').responses.retrieve(created.id)).output).toEqual(created.output);
    await expect(client('tg-b').responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
  });

  it('keeps conversations, and the turns taken in them', async () => {
    const conversation = await client('tg-a').conversations.create({});
    await client('tg-a').responses.create({ model: 'gpt-4.1', conversation: conversation.id, input: 'Hi.', max_output_tokens: 50 });
    expect((await client('tg-a').conversations.items.list(conversation.id, { order: 'asc' })).data.map((i) => (i as { role: string }).role)).toEqual(['user', 'assistant']);
    await expect(client('tg-b').conversations.retrieve(conversation.id)).rejects.toMatchObject({ status: 404 });
  });
});

describe('a background response on the in-process mock provider', () => {
  it('is answered queued, and its call recorded with the usage the provider reports once it has ended', async () => {
    const created = await client('tg-a').responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 1_000, background: true });
    expect(created).toMatchObject({ status: 'queued', usage: null });
    await until(() => local().gateway.background.size === 0);
    const row = local().calls.find((c) => c.providerResponseId === created.id);
    const done = await client('tg-a').responses.retrieve(created.id);
    expect(done.status).toBe('completed');
    expect(row?.usage).toMatchObject({ input: done.usage!.input_tokens, output: done.usage!.output_tokens, source: 'provider' });
    expect(row?.usage.output).toBeLessThan(1_000); // what it generated, not its whole grant
  });
});
