// OpenAI's Responses API (`/v1/responses`) through the gateway with the official openai client.
import { beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { useBehindMock } from './helpers/use-test-gateway.js';

const UPSTREAM_KEY = 'sk-upstream-secret';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 20, apiKey: UPSTREAM_KEY }, (url) => `
providers: {openai: {type: openai, base_url: "${url}/v1", api_key: ${UPSTREAM_KEY}}}
projects: {p: {daily_limit: 1000000}}
routes:
  r:
    chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1-2025-04-14}]
    token_limiting:
      scope: user
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 100000}
  narrow:
    chat_models: [{model_id: gpt-4.1-narrow, model: openai/gpt-4.1}]
    token_limiting:
      scope: user
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 40}
keys: [{id: a, key: tg-a, project: p}, {id: b, key: tg-b, project: p}]
`);
beforeEach(() => upstream().clearRequests());

const client = (key = 'tg-a') => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
const lastCall = () => gw().calls[gw().calls.length - 1];

describe('/v1/responses', () => {
  it('answers without streaming, settled with the reported usage', async () => {
    const res = await client().responses.create({ model: 'gpt-4.1', input: 'Say hello.', max_output_tokens: 100 });
    expect(res.object).toBe('response');
    expect(res.status).toBe('completed');
    expect(res.output_text.split(' ')).toHaveLength(20);
    const [sent] = upstream().requests();
    expect(sent.path).toBe('/v1/responses');
    expect(sent.body).toEqual({ model: 'gpt-4.1-2025-04-14', input: 'Say hello.', max_output_tokens: 100 });
    expect(lastCall()).toMatchObject({ endpoint: 'responses', reserved: { output: 100 }, usage: { input: res.usage!.input_tokens, output: 20, source: 'provider' } });
  });

  it('streams with the SDK helper; usage comes from response.completed and no stream_options is added', async () => {
    const stream = client().responses.stream({ model: 'gpt-4.1', input: 'Say hello.' });
    const types: string[] = [];
    let text = '';
    stream.on('event', (e) => types.push(e.type));
    stream.on('response.output_text.delta', (e) => (text += e.delta));
    const final = await stream.finalResponse();
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(types.filter((t) => t === 'response.output_text.delta')).toHaveLength(20);
    expect(final.output_text).toBe(text);
    expect(final.usage?.output_tokens).toBe(20);
    expect((upstream().requests()[0].body as Record<string, unknown>).stream_options).toBeUndefined();
    expect(lastCall()).toMatchObject({ stream: true, streamEnd: 'complete', usage: { output: 20, source: 'provider', input: final.usage!.input_tokens } });
  });

  it('lowers max_output_tokens to the room left and reports the clamp', async () => {
    const { data, response } = await client('tg-b').responses.create({ model: 'gpt-4.1-narrow', input: 'Say hello.', max_output_tokens: 100 }).withResponse();
    expect(response.headers.get('x-tollgate-clamped-max-tokens')).toBe('40');
    expect((upstream().requests()[0].body as Record<string, unknown>).max_output_tokens).toBe(40);
    expect(data.status).toBe('completed');
    expect(lastCall()).toMatchObject({ decision: 'clamped', reserved: { output: 40 }, usage: { output: 20 } });
  });

  it('counts the streamed text when the upstream reports no usage', async () => {
    const stream = client().responses.stream({ model: 'gpt-4.1', input: 'Say hello.', ...({ mock_omit_usage: true } as object) });
    await stream.finalResponse();
    expect(lastCall()).toMatchObject({ streamEnd: 'complete', usage: { output: 20, source: 'estimated' } });
  });
});
