// `GET /v1/models` for the Anthropic SDK lists only what `/v1/messages` serves: a route's embedding
// models are not among them, even on a provider that speaks both wire formats (the quick start's mock).
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { useTestGateway } from './helpers/use-test-gateway.js';

const gw = useTestGateway(`
providers:
  demo: {type: mock}
routes:
  demo:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
    embedding_models: [{model_id: text-embedding-3-small, model: demo/text-embedding-3-small}]
keys:
  - {id: alice, key: tg-alice}
`);

const client = (): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: 'tg-alice', maxRetries: 0 });

describe("GET /v1/models in Anthropic's format", () => {
  it('lists the chat models /v1/messages serves, not the embedding models it refuses', async () => {
    const ids: string[] = [];
    for await (const m of client().models.list()) ids.push(m.id);
    expect(ids).toEqual(['gpt-4o', 'demo/gpt-4o', 'demo']);
    // What is listed is served, and what is not listed is refused.
    await expect(client().messages.create({ model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })).resolves.toMatchObject({ type: 'message' });
    const refused = await client().messages.create({ model: 'text-embedding-3-small', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.NotFoundError);
    await expect(client().models.retrieve('text-embedding-3-small')).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  });

  it("the OpenAI-format list keeps the embedding models, which /v1/embeddings serves", async () => {
    const res = await fetch(`${gw().url}/v1/models`, { headers: { authorization: 'Bearer tg-alice' } });
    const ids = ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
    expect(ids).toEqual(['gpt-4o', 'demo/gpt-4o', 'text-embedding-3-small', 'demo/text-embedding-3-small', 'demo']);
  });
});
