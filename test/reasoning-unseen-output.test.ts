// A reasoning model's thinking is billed as output and never shown. When the provider's usage never comes
// (the client left mid-stream, the gateway's relay was cut, a server that reports none), the gateway used
// to charge only the visible text: a stream of o3-mini that the provider billed 1,010 output tokens for was
// settled at 4, and a hard limit never heard of the rest. It now charges the whole grant (the provider's cap
// on that thinking); other models stay charged for what they showed. A client that leaves before the first
// byte of an accepted stream is charged its input, as one that leaves later (it was refunded whole).
import OpenAI from 'openai';
import { expect, it } from 'vitest';
import type { CallRecord } from '../src/proxy/gateway.js';
import { until } from './helpers/until.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

const frame = (value: object): string => `data: ${JSON.stringify(value)}\n\n`;

// Streams five words 30 ms apart, then the usage (1,000 of its 1,010 output tokens reasoning); with
// `hold_first`, nothing for 5 s after the 200.
const { gw } = useBehindWireUpstream((_req, res, raw) => {
  const body = JSON.parse(raw) as { model: string; hold_first?: boolean };
  const head = { id: 'chatcmpl-r', object: 'chat.completion.chunk', created: 1760000000, model: body.model };
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.flushHeaders(); // the 200 goes out now, before any event
  let i = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (i < 5) {
      res.write(frame({ ...head, choices: [{ index: 0, delta: { content: `word${i} ` }, logprobs: null, finish_reason: i === 4 ? 'stop' : null }] }));
      i++;
      return void setTimeout(next, 30);
    }
    res.write(frame({ ...head, choices: [], usage: { prompt_tokens: 12, completion_tokens: 1010, total_tokens: 1022, completion_tokens_details: { reasoning_tokens: 1000 } } }));
    res.end('data: [DONE]\n\n');
  };
  setTimeout(next, body.hold_first ? 5000 : 0);
}, (url) => `
providers:
  compat: {type: openai, base_url: "${url}", api_key: sk-up}
projects: {p: {daily_limit: 1000000}}
routes:
  r:
    chat_models: [{model_id: o3-mini, model: compat/o3-mini}, {model_id: gpt-4o, model: compat/gpt-4o}]
keys: [{id: k, key: tg-k, project: p}]
`);

/** Streams `model`, leaving after `chunks` chunks (all of them when undefined); the call's record. */
async function streamed(model: string, chunks: number | undefined, extra: object = {}): Promise<CallRecord> {
  const before = gw().calls.length;
  const abort = new AbortController();
  const client = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
  const body = { model, messages: [{ role: 'user', content: 'Is Boston in Massachusetts?' }], stream: true, max_completion_tokens: 1500, ...extra };
  const leaveAfter = chunks === 0 ? setTimeout(() => abort.abort(), 300) : undefined;
  try {
    const stream = await client.chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming, { signal: abort.signal });
    let seen = 0;
    for await (const _ of stream) if (++seen === chunks) abort.abort();
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearTimeout(leaveAfter);
  }
  await until(() => gw().calls.length > before);
  return gw().calls[gw().calls.length - 1];
}

it('a reasoning model whose stream the client left before the usage is charged its whole grant', async () => {
  const call = await streamed('o3-mini', 2);
  expect(call.status).toBe(499);
  expect(call.usage).toMatchObject({ output: 1500, source: 'estimated' });
});

it('another model left the same way is charged what it showed', async () => {
  const call = await streamed('gpt-4o', 2);
  expect(call.status).toBe(499);
  expect(call.usage.source).toBe('estimated');
  expect(call.usage.output).toBeGreaterThan(0);
  expect(call.usage.output).toBeLessThan(20);
});

it("a reasoning model's whole stream is settled at the provider's usage, thinking included", async () => {
  const call = await streamed('o3-mini', undefined);
  expect(call.status).toBe(200);
  expect(call.usage).toMatchObject({ input: 12, output: 1010, source: 'provider' });
});

it('a client that leaves an accepted stream before its first byte is charged its input (and a reasoning model its grant)', async () => {
  const call = await streamed('o3-mini', 0, { hold_first: true });
  expect(call.status).toBe(499);
  expect(call.usage.input).toBeGreaterThan(0);
  expect(call.usage.output).toBe(1500);
  const plain = await streamed('gpt-4o', 0, { hold_first: true });
  expect(plain.status).toBe(499);
  expect(plain.usage.input).toBeGreaterThan(0);
  expect(plain.usage.output).toBe(0);
});
