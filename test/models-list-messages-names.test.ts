// `GET /v1/models` for the Anthropic SDK, and the 404 of `/v1/messages`, name only what `/v1/messages`
// serves. A name reaches the model the resolver picks among all of the key's models: a route alone its
// first chat model, a bare model_id the first route's. Derived from the Anthropic-served models alone,
// the names listed a route whose first model is an OpenAI one, and a bare id an OpenAI route has first:
// the SDK was told of models each call to which was a 400.
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw } = useBehindMock({ latencyMs: 0, outputTokens: 4 }, (url) => `
providers:
  oa: {type: openai, base_url: ${url}/v1, api_key: up-key}
  an: {type: anthropic, base_url: ${url}, api_key: up-key}
routes:
  mixed:
    chat_models:
      - {model_id: gpt, model: oa/gpt-4o}
      - {model_id: claude, model: an/claude-sonnet-4-5}
  first:
    chat_models: [{model_id: x, model: oa/gpt-4o-mini}]
  second:
    chat_models: [{model_id: x, model: an/claude-haiku-4-5}]
keys:
  - {id: alice, key: tg-alice}
`);

const client = (): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: 'tg-alice', maxRetries: 0 });
const ask = (model: string) => client().messages.create({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });

describe("names of the models /v1/messages serves", () => {
  it('lists only names that /v1/messages serves, and serves every name it lists', async () => {
    const ids: string[] = [];
    for await (const m of client().models.list()) ids.push(m.id);
    expect(ids).toEqual(['claude', 'mixed/claude', 'second/x', 'second']);
    for (const id of ids) await expect(ask(id)).resolves.toMatchObject({ type: 'message' });
    // Not listed, as /v1/messages refuses them: `mixed` is its OpenAI model, `x` the first route's.
    for (const id of ['mixed', 'x']) {
      await expect(ask(id)).rejects.toBeInstanceOf(Anthropic.BadRequestError);
      await expect(client().models.retrieve(id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    }
  });

  it("the 404 on the OpenAI endpoints names what each serves: Claude through chat completions, not on /v1/responses", async () => {
    const notFound = async (path: string) => {
      const res = await fetch(`${gw().url}${path}`, {
        method: 'POST',
        headers: { authorization: 'Bearer tg-alice', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'nope', input: 'hi', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(404);
      return ((await res.json()) as { error: { message: string } }).error.message;
    };
    expect(await notFound('/v1/chat/completions')).toContain('Models this key can use: gpt, mixed/gpt, claude, mixed/claude, x, first/x, second/x, mixed, first, second.');
    expect(await notFound('/v1/responses')).toContain('Models this key can use: gpt, mixed/gpt, x, first/x, mixed, first.');
  });

  it("the 404 for an unknown model names the same models", async () => {
    const err = await ask('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect((err as Error).message).toContain('Models this key can use: claude, mixed/claude, second/x, second.');
  });
});
