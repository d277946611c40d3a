// OpenAI apps often send `temperature` and `top_p` together, one of them at its default (the OpenAI
// Playground's code has `temperature=1, top_p=1`). Claude's newer models (Opus 4.1, Sonnet and Haiku 4.5
// on) refuse the pair with a 400 ("`temperature` and `top_p` cannot both be specified for this model"),
// and the gateway's OpenAI → Claude translation sent both: such an app moved to Claude by a config change
// failed on every call. A value of 1 is either parameter's default on every model, so when both come, the
// one at 1 stays behind; two chosen values still go, and the provider's refusal says why.
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { beforeEach, describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream, upstreamUrl } = useBehindMock({ latencyMs: 0, outputTokens: 5, apiKey: 'sk-ant-s' }, (url) => `
providers: {claude: {type: anthropic, base_url: "${url}", api_key: sk-ant-s}}
projects: {p: {daily_limit: 1000000}}
routes:
  r:
    chat_models:
      - {model_id: sonnet-4-5, model: claude/claude-sonnet-4-5-20250929}
      - {model_id: sonnet-4, model: claude/claude-sonnet-4-20250514}
keys: [{id: k, key: tg-k, project: p}]
`);
beforeEach(() => upstream().clearRequests());

const messages = [{ role: 'user' as const, content: 'Hi.' }];
const openai = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const sentSampling = (): Array<Record<string, unknown>> =>
  upstream().requests().map((r) => {
    const { temperature, top_p } = r.body as Record<string, unknown>;
    return { temperature, top_p };
  });

describe('temperature and top_p together', () => {
  it('are refused by the mock upstream for the newer models, as by Anthropic, and taken by the older', async () => {
    const direct = new Anthropic({ baseURL: upstreamUrl(), apiKey: 'sk-ant-s', maxRetries: 0, defaultHeaders: { 'x-api-key': 'sk-ant-s', 'anthropic-version': '2023-06-01' } });
    const both = { temperature: 0.5, top_p: 0.9 } as object;
    for (const model of ['claude-sonnet-4-5-20250929', 'claude-opus-4-1', 'claude-haiku-4-5', 'claude-opus-5-5']) {
      const err = await direct.messages.create({ model, max_tokens: 10, messages, ...both }).catch((e: unknown) => e);
      expect(err, model).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ error: { message: '`temperature` and `top_p` cannot both be specified for this model. Please use only one.' } });
    }
    for (const model of ['claude-sonnet-4-20250514', 'claude-opus-4-20250514', 'claude-3-7-sonnet-20250219']) {
      expect((await direct.messages.create({ model, max_tokens: 10, messages, ...both })).type, model).toBe('message');
    }
  });

  it('reach a newer Claude model through the chat bridge with the one at its default left behind', async () => {
    const a = await openai().chat.completions.create({ model: 'sonnet-4-5', messages, max_tokens: 10, temperature: 0.7, top_p: 1 });
    const b = await openai().chat.completions.create({ model: 'sonnet-4-5', messages, max_tokens: 10, temperature: 1, top_p: 0.8 });
    const c = await openai().chat.completions.create({ model: 'sonnet-4-5', messages, max_tokens: 10, temperature: 1, top_p: 1 });
    for (const answer of [a, b, c]) expect(answer.choices[0]!.finish_reason).toBe('stop');
    expect(sentSampling()).toEqual([
      { temperature: 0.7, top_p: undefined },
      { temperature: undefined, top_p: 0.8 },
      { temperature: 1, top_p: undefined },
    ]);
  });

  it('go on as chosen otherwise: one alone, or two values that are not defaults (the provider decides)', async () => {
    await openai().chat.completions.create({ model: 'sonnet-4-5', messages, max_tokens: 10, top_p: 1 });
    await openai().chat.completions.create({ model: 'sonnet-4', messages, max_tokens: 10, temperature: 0.3, top_p: 0.9 });
    const refused = await openai().chat.completions.create({ model: 'sonnet-4-5', messages, max_tokens: 10, temperature: 0.3, top_p: 0.9 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as Error).message).toContain('`temperature` and `top_p` cannot both be specified');
    expect(sentSampling()).toEqual([
      { temperature: undefined, top_p: 1 },
      { temperature: 0.3, top_p: 0.9 },
      { temperature: 0.3, top_p: 0.9 },
    ]);
    expect(gw().calls.at(-1)).toMatchObject({ status: 400, usage: { input: 0, output: 0 } });
  });
});
