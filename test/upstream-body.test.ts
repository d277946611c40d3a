// What goes upstream: the client's own bytes when nothing needs rewriting (no re-serialization of large
// prompts), a rewritten body otherwise, and never the client's key.
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 5 }, (url) => `
providers: {up: {type: openai, base_url: "${url}/v1", api_key: sk-gateway}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}, {model_id: fast, model: up/gpt-4o-mini}]
keys:
  - {id: erin, key: tg-erin, user: erin}
`);

/** Posts `text` as the body and returns what the upstream received. */
async function sentUpstream(text: string): Promise<{ status: number; text: string; body: Record<string, unknown>; authorization: unknown }> {
  upstream().clearRequests();
  const res = await fetch(`${gw().url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tg-erin' }, body: text });
  await res.arrayBuffer();
  const [seen] = upstream().requests();
  return { status: res.status, text: seen?.text ?? '', body: seen?.body as Record<string, unknown>, authorization: seen?.headers.authorization };
}

// Odd spacing, key order, an escaped character and a field the gateway does not know: all kept as sent.
const asSent = (model: string, extra = '') =>
  `{ "messages" : [ {"role":"user","content":"caf\\u00e9 \\/ ok"} ],\n  "model":"${model}", "x_unknown": {"a":[1,2.50,null]}${extra} }`;

describe('the body sent upstream', () => {
  it('is the client bytes, unchanged, when the model and max_tokens stay as asked', async () => {
    const text = asSent('gpt-4o', ', "max_tokens": 20');
    const seen = await sentUpstream(text);
    expect(seen.status).toBe(200);
    expect(seen.text).toBe(text);
    expect(seen.authorization).toBe('Bearer sk-gateway');
  });

  it('is rewritten when the route names another upstream model', async () => {
    const seen = await sentUpstream(asSent('fast', ', "max_tokens": 20'));
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual(JSON.parse(asSent('gpt-4o-mini', ', "max_tokens": 20')));
    expect(seen.text).not.toContain('\n');
  });

  it('is rewritten when the gateway sets the output allowance or asks for stream usage', async () => {
    const noMax = await sentUpstream(asSent('gpt-4o'));
    expect(noMax.status).toBe(200);
    expect(noMax.body.max_tokens).toBeGreaterThan(0);
    expect(noMax.body.x_unknown).toEqual({ a: [1, 2.5, null] });

    const streamed = await sentUpstream(asSent('gpt-4o', ', "max_tokens": 20, "stream": true'));
    expect(streamed.status).toBe(200);
    expect(streamed.body.stream_options).toEqual({ include_usage: true });
  });
});
