// The README's "Streaming" section, checked by a QA pass: the usage chunk the gateway asks for is removed
// again whatever else the client put in `stream_options`, and a Claude tool_use block streamed past the
// output allowance by an upstream that ignores max_tokens ends as the API would end it.
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const LIMIT = 300;
const CLAUDE = 'claude-sonnet-4-20250514';

const { gw } = useBehindMock({ latencyMs: 0, outputTokens: 6 }, (url) => `
providers:
  up: {type: openai, base_url: "${url}/v1"}
  claude: {type: anthropic, base_url: "${url}"}
projects: {p: {daily_limit: 10000000}}
routes:
  free: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}
  r:
    chat_models: [{model_id: claude, model: claude/${CLAUDE}}]
    token_limiting:
      scope: user
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: ${LIMIT}}
keys: [{id: a, key: tg-a, project: p}, {id: b, key: tg-b, project: p}, {id: c, key: tg-c, project: p}]
`);

/** The SSE frames of a streamed chat call with these `stream_options`. */
async function frames(key: string, streamOptions: object): Promise<string[]> {
  const res = await fetch(`${gw().url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: streamOptions }),
  });
  expect(res.status).toBe(200);
  return (await res.text()).split('\n\n').filter(Boolean);
}

describe('stream_options the client sent without include_usage: true', () => {
  it('include_usage: false: no usage chunk and no "usage" member reach the client; settled with the provider\'s usage', async () => {
    const got = await frames('tg-a', { include_usage: false });
    expect(got.at(-1)).toBe('data: [DONE]');
    expect(got.some((f) => f.includes('"usage"'))).toBe(false);
    expect(got.slice(0, -1).every((f) => JSON.parse(f.slice(6)).choices.length === 1)).toBe(true);
    expect(gw().calls.find((c) => c.principal.keyId === 'a')).toMatchObject({ status: 200, streamEnd: 'complete', usage: { output: 6, source: 'provider' } });
  });

  it('include_obfuscation: false alone: kept (no padding comes back), the usage still asked for and removed', async () => {
    const got = await frames('tg-b', { include_obfuscation: false });
    expect(got.at(-1)).toBe('data: [DONE]');
    expect(got.some((f) => f.includes('"usage"') || f.includes('"obfuscation"'))).toBe(false);
    expect(gw().calls.find((c) => c.principal.keyId === 'b')).toMatchObject({ status: 200, streamEnd: 'complete', usage: { output: 6, source: 'provider' } });
  });
});

it('Anthropic: a tool_use block streamed past the allowance ends with stop_reason max_tokens, the counter holding what was delivered', async () => {
  const fields = Array.from({ length: 150 }, (_, i) => `field_number_${i}`);
  const schema = { type: 'object' as const, properties: Object.fromEntries(fields.map((f) => [f, { type: 'string' }])), required: fields };
  const anthropic = new Anthropic({ baseURL: gw().url, apiKey: 'tg-c', maxRetries: 0 });
  const stream = anthropic.messages.stream({
    model: 'claude',
    max_tokens: 2000,
    messages: [{ role: 'user', content: 'Fill it.' }],
    tools: [{ name: 'fill', input_schema: schema }],
    tool_choice: { type: 'any' },
    ...({ mock_output_tokens: 2000, mock_ignore_max_tokens: true } as object),
  });
  let json = '';
  stream.on('inputJson', (d) => (json += d));
  const message = await stream.finalMessage();
  expect(message.stop_reason).toBe('max_tokens');
  expect(message.content.map((b) => b.type)).toEqual(['tool_use']);
  expect(json.length).toBeGreaterThan(100);
  expect(message.usage.output_tokens).toBeLessThanOrEqual(LIMIT);
  expect(message.usage.output_tokens).toBeGreaterThan(LIMIT - 30);
  const call = gw().calls.find((c) => c.principal.keyId === 'c')!;
  expect(call).toMatchObject({ status: 200, streamEnd: 'cut_at_limit', usage: { output: message.usage.output_tokens } });
  const limits = gw().gateway.engine.applicable.for(call.principal, call.target);
  const output = limits.find((l) => l.id.endsWith(':output'))!;
  expect((await gw().store.peek([output.item]))[0].used).toBe(message.usage.output_tokens);
  expect(await gw().store.openReservations()).toBe(0);
});
