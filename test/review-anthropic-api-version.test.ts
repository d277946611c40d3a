// Anthropic API version 2026-10-21, which the SDK 1.x sends, removed the sampling parameters: a request
// with `temperature`, `top_p` or `top_k` is a 400 ("temperature: Extra inputs are not permitted"), even at
// the default value, on /v1/messages and token counting. The mock upstream took them under every version,
// so nothing here could show what a client on the new SDK meets, or that the gateway's own OpenAI → Claude
// translation (which maps `temperature` and `top_p`) stays on the version that still takes them.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const MODEL = 'claude-sonnet-4-5';

const { gw, upstream, upstreamUrl } = useBehindMock({ latencyMs: 0, outputTokens: 5, apiKey: 'sk-ant-v' }, (url) => `
providers: {claude: {type: anthropic, base_url: "${url}", api_key: sk-ant-v}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: claude, model: claude/${MODEL}}]}}
keys: [{id: k, key: tg-k, project: p}]
`);
beforeEach(() => upstream().clearRequests());

// Straight to the mock: it reads the key from x-api-key alone (the SDK 1.x sends it as a bearer token too).
const direct = (headers: Record<string, string> = {}): Anthropic =>
  new Anthropic({ baseURL: upstreamUrl(), apiKey: 'sk-ant-v', maxRetries: 0, defaultHeaders: { 'x-api-key': 'sk-ant-v', ...headers } });
const messages = [{ role: 'user' as const, content: 'Hi.' }];
// The SDK 1.x has no sampling parameters: they go as extra body fields.
const sampled = (fields: Record<string, number>) => fields as object;

describe('API version 2026-10-21 at the mock upstream', () => {
  it('refuses temperature, top_p and top_k, even at their defaults; 2023-06-01 takes them', async () => {
    const upstreamClient = direct();
    for (const [field, value] of [['temperature', 1], ['top_p', 0.9], ['top_k', 40]] as const) {
      const err = await upstreamClient.messages.create({ model: MODEL, max_tokens: 10, messages, ...sampled({ [field]: value }) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ error: { type: 'invalid_request_error', message: `${field}: Extra inputs are not permitted` } });
    }
    const counted = await upstreamClient.messages.countTokens({ model: MODEL, messages, ...sampled({ temperature: 0.5 }) }).catch((e: unknown) => e);
    expect(counted).toBeInstanceOf(Anthropic.BadRequestError);
    const older = direct({ 'anthropic-version': '2023-06-01' });
    expect((await older.messages.create({ model: MODEL, max_tokens: 10, messages, ...sampled({ temperature: 0.5 }) })).type).toBe('message');
    expect(upstream().requests().map((r) => r.headers['anthropic-version'])).toEqual(['2026-10-21', '2026-10-21', '2026-10-21', '2026-10-21', '2023-06-01']);
  });
});

describe('through the gateway', () => {
  it("relays the refusal of an SDK 1.x client's temperature in Anthropic's format, charging nothing", async () => {
    const err = await new Anthropic({ baseURL: gw().url, apiKey: 'tg-k', maxRetries: 0 }).messages.create({ model: 'claude', max_tokens: 10, messages, ...sampled({ temperature: 0.2 }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const e = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(e.error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'temperature: Extra inputs are not permitted' }, request_id: e.requestID });
    expect(upstream().requests()[0]?.headers['anthropic-version']).toBe('2026-10-21');
    expect(gw().calls.at(-1)).toMatchObject({ status: 400, usage: { input: 0, output: 0 } });
  });

  it('sends an OpenAI client’s temperature to Claude on the version that takes it', async () => {
    const answer = await new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 }).chat.completions.create({ model: 'claude', messages, max_tokens: 10, temperature: 0.2, top_p: 1 });
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    const [sent] = upstream().requests();
    expect(sent!.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent!.body).toMatchObject({ temperature: 0.2 });
  });
});
