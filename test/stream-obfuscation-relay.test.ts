// OpenAI's streamed chat chunks end with an `obfuscation` member (on by default, off with
// `stream_options.include_obfuscation: false`). The gateway asks every stream for its usage and, for a client
// that did not, cuts `"usage":null` out of each chunk: what the client gets must be what OpenAI itself sends
// without include_usage, the obfuscation kept in place, byte for byte but for the values.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 5 }, (url) => `
providers:
  openai: {type: openai, base_url: "${url}/v1", api_key: sk-up}
projects: {p: {daily_limit: 1000000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o-mini, model: openai/gpt-4o-mini}]
keys: [{id: k, key: tg-k, project: p}]
`);

/** The data lines of a chat stream through the gateway, as sent. */
async function frames(body: Record<string, unknown>): Promise<string[]> {
  const res = await fetch(`${gw().url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true, ...body }),
  });
  expect(res.status).toBe(200);
  return (await res.text()).split('\n\n').filter((f) => f !== '' && f !== 'data: [DONE]').map((f) => f.replace(/^data: /, ''));
}

/** A chunk's JSON text with its id, times, texts and padding blanked: what stays is the bytes OpenAI's format fixes. */
const skeleton = (data: string): string =>
  data
    .replace(/"(id|system_fingerprint|obfuscation|model)":"[^"]*"/g, '"$1":""')
    .replace(/"content":"(?:[^"\\]|\\.)*"/g, '"content":""')
    .replace(/"created":\d+/, '"created":0');

/** OpenAI's own chunks of a stream without include_usage (the recorded fixture), by kind. */
const fixture = readFileSync(new URL('../src/providers/sse/fixtures/openai-chat.sse', import.meta.url), 'utf8')
  .split('\n\n')
  .filter((f) => f.startsWith('data: {'))
  .map((f) => skeleton(f.slice('data: '.length)));

describe('obfuscated chat chunks through the gateway', () => {
  it('reach a client that did not ask for usage as OpenAI sends them without include_usage', async () => {
    const got = await frames({});
    // The gateway asked for usage (its own usage chunk is gone again); every chunk keeps its obfuscation, last.
    expect(upstream().requests().at(-1)!.body).toMatchObject({ stream_options: { include_usage: true } });
    expect(got).toHaveLength(1 + 5 + 1);
    for (const f of got) expect(f).toMatch(/,"obfuscation":"[A-Za-z0-9]+"\}$/);
    expect(skeleton(got[0]!)).toBe(fixture[0]);
    expect(skeleton(got[1]!)).toBe(fixture[1]);
    expect(skeleton(got.at(-1)!)).toBe(fixture.at(-1));
  });

  it('come without it when the client turns obfuscation off, which goes upstream as asked', async () => {
    const got = await frames({ stream_options: { include_obfuscation: false } });
    expect(upstream().requests().at(-1)!.body).toMatchObject({ stream_options: { include_obfuscation: false, include_usage: true } });
    expect(got).toHaveLength(1 + 5 + 1);
    for (const f of got) expect(f).not.toContain('obfuscation');
    expect(skeleton(got[1]!)).toBe(fixture[1]!.replace(/,"obfuscation":""/, ''));
  });

  it('pass untouched to a client that asked for usage, the usage chunk with its padding included', async () => {
    const got = await frames({ stream_options: { include_usage: true } });
    expect(got).toHaveLength(1 + 5 + 1 + 1);
    for (const f of got.slice(0, -1)) expect(f).toMatch(/\],"usage":null,"obfuscation":"[A-Za-z0-9]+"\}$/);
    expect(got.at(-1)).toMatch(/^\{.*"choices":\[\],"usage":\{"prompt_tokens":\d+,"completion_tokens":5,.*\}\},"obfuscation":"[A-Za-z0-9]+"\}$/);
  });
});
