// Anthropic API version 2026-10-21 has no `temperature`, `top_p` or `top_k`: a request with any of them is a
// 400 ("temperature: Extra inputs are not permitted"), even at its default. The OpenAI → Claude translation
// mapped an OpenAI app's `temperature` and `top_p` onto the Anthropic body whatever version it was sent
// under, so an operator who set `providers.<name>.headers: {anthropic-version: 2026-10-21}` (or an OpenAI
// client that sends that header, which the gateway forwards) saw every call of an app that sets a
// temperature (most do: LangChain sends 0.7 by default) refused. Under that version they now stay behind.
// The native /v1/messages path passes the client's own version through unchanged, whatever the operator
// configured: the client chose it, and its refusal is the client's to see.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const MODEL = 'claude-sonnet-4-20250514';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 5, apiKey: 'sk-ant-b' }, (url) => `
providers:
  old: {type: anthropic, base_url: "${url}", api_key: sk-ant-b}
  new: {type: anthropic, base_url: "${url}", api_key: sk-ant-b, headers: {anthropic-version: "2026-10-21"}}
projects: {p: {daily_limit: 1000000}}
routes:
  r:
    chat_models:
      - {model_id: on-old, model: old/${MODEL}}
      - {model_id: on-new, model: new/${MODEL}}
keys: [{id: k, key: tg-k, project: p}]
`);
beforeEach(() => upstream().clearRequests());

const messages = [{ role: 'user' as const, content: 'Hi.' }];
const bodyOf = (r: { body: unknown } | undefined): Record<string, unknown> => r!.body as Record<string, unknown>;
const openai = (headers: Record<string, string> = {}): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0, defaultHeaders: headers });

describe('OpenAI clients on Claude under API version 2026-10-21', () => {
  it('leaves temperature and top_p behind when the operator configured the version', async () => {
    const answer = await openai().chat.completions.create({ model: 'on-new', messages, max_tokens: 10, temperature: 0.7, top_p: 0.9 });
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    const [sent] = upstream().requests();
    expect(sent!.headers['anthropic-version']).toBe('2026-10-21');
    expect(sent!.body).not.toHaveProperty('temperature');
    expect(sent!.body).not.toHaveProperty('top_p');
    expect(sent!.body).toMatchObject({ model: MODEL, max_tokens: 10, messages });
  });

  it('leaves them behind when the OpenAI client sends that version itself (it is forwarded)', async () => {
    const answer = await openai({ 'anthropic-version': '2026-10-21' }).chat.completions.create({ model: 'on-old', messages, max_tokens: 10, temperature: 0 });
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    const [sent] = upstream().requests();
    expect(sent!.headers['anthropic-version']).toBe('2026-10-21');
    expect(sent!.body).not.toHaveProperty('temperature');
  });

  it('still sends them on the version that takes them, including a client that asks for 2023-06-01 on the new provider', async () => {
    await openai().chat.completions.create({ model: 'on-old', messages, max_tokens: 10, temperature: 0.2 });
    await openai({ 'anthropic-version': '2023-06-01' }).chat.completions.create({ model: 'on-new', messages, max_tokens: 10, top_p: 0.5 });
    const [first, second] = upstream().requests();
    expect([first!.headers['anthropic-version'], bodyOf(first).temperature]).toEqual(['2023-06-01', 0.2]);
    expect([second!.headers['anthropic-version'], bodyOf(second).top_p]).toEqual(['2023-06-01', 0.5]);
  });

  it('passes an explicit top_k (an Anthropic field the client added) through, so the refusal says why', async () => {
    const err = await openai().chat.completions.create({ model: 'on-new', messages, max_tokens: 10, ...({ top_k: 40 } as object) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('top_k: Extra inputs are not permitted');
    expect(gw().calls.at(-1)).toMatchObject({ status: 400, usage: { input: 0, output: 0 } });
  });
});

describe('native /v1/messages', () => {
  it("sends the client's version as it came, over the operator's, in both directions", async () => {
    const sdk = new Anthropic({ baseURL: gw().url, apiKey: 'tg-k', maxRetries: 0 });
    await sdk.messages.create({ model: 'on-old', max_tokens: 10, messages }); // SDK 1.x: 2026-10-21
    const older = new Anthropic({ baseURL: gw().url, apiKey: 'tg-k', maxRetries: 0, defaultHeaders: { 'anthropic-version': '2023-06-01' } });
    await older.messages.create({ model: 'on-new', max_tokens: 10, messages, ...({ temperature: 0.3 } as object) });
    const [a, b] = upstream().requests();
    expect(a!.headers['anthropic-version']).toBe('2026-10-21');
    expect([b!.headers['anthropic-version'], bodyOf(b).temperature]).toEqual(['2023-06-01', 0.3]);
  });
});
