import { request as httpRequest, Agent, type IncomingMessage } from 'node:http';
import { encode as encodeO200k } from 'gpt-tokenizer/encoding/o200k_base';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SseParser } from '../providers/sse/index.js';
import { estimateInput } from '../tokens/index.js';
import { createMockUpstream, type MockUpstream, type RecordedRequest } from './index.js';

const messages = [{ role: 'user' as const, content: 'Tell me about token budgets.' }];

let upstream: MockUpstream;
let url: string;
let client: OpenAI;

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 16, embeddingDimensions: 256 });
  url = await upstream.listen(0, '127.0.0.1');
  client = new OpenAI({ baseURL: url + '/v1', apiKey: 'x', maxRetries: 0 });
});
afterAll(() => upstream.close());
beforeEach(() => upstream.clearRequests());

function lastBody(): Record<string, unknown> {
  return upstream.requests().at(-1)!.body as Record<string, unknown>;
}

// Reads a streamed body as far as it goes; `error` is set when the connection ended early.
async function readAll(res: Response): Promise<{ text: string; error?: unknown }> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text: text + dec.decode() };
      text += dec.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}

const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('the official openai client against the mock upstream', () => {
  it('chat, non-streaming: usage equals the tokenizer count and the requested output', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-4o', messages, max_completion_tokens: 10 });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0]!.finish_reason).toBe('length');
    expect(res.usage!.prompt_tokens).toBe(estimateInput('chat', lastBody(), 'gpt-4o').exact());
    expect(res.usage!.completion_tokens).toBe(10);
    expect(encodeO200k(res.choices[0]!.message.content!)).toHaveLength(10);
  });

  it('chat, streaming with include_usage: the SDK yields the usage chunk and the content has the right token count', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
      // Unknown fields pass through the SDK untouched, exactly as they pass through the gateway.
      ...({ mock_output_tokens: 25 } as object),
    });
    let content = '';
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      content += chunk.choices[0]?.delta.content ?? '';
    }
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBe(25);
    expect(last.usage!.prompt_tokens).toBe(estimateInput('chat', lastBody(), 'gpt-4o-mini').exact());
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(encodeO200k(content)).toHaveLength(25);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('legacy completions', async () => {
    const res = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say this is a test', max_tokens: 7 });
    expect(res.object).toBe('text_completion');
    expect(res.choices[0]!.finish_reason).toBe('length');
    expect(res.usage).toEqual({
      prompt_tokens: estimateInput('completions', lastBody(), 'gpt-3.5-turbo-instruct').exact(),
      completion_tokens: 7,
      total_tokens: res.usage!.prompt_tokens + 7,
    });
  });

  it('embeddings: the default base64 path decodes to the right dimension', async () => {
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['one', 'two'] });
    expect(lastBody().encoding_format).toBe('base64'); // the SDK asks for base64 on its own
    expect(res.data).toHaveLength(2);
    expect(res.data[0]!.embedding).toHaveLength(256);
    expect(Math.hypot(...res.data[0]!.embedding)).toBeCloseTo(1, 5);
    const floats = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'one', encoding_format: 'float', dimensions: 256 });
    expect(floats.data[0]!.embedding.map((f) => Math.fround(f))).toEqual(res.data[0]!.embedding);
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('models list', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toContain('gpt-4o');
  });

  it('maps mock_error_status 429 to the SDK rate-limit error with retry-after', async () => {
    const err = await client.chat.completions
      .create({ model: 'gpt-4o', messages, ...({ mock_error_status: 429 } as object) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.headers.get('retry-after')).toBe('1');
  });

  it('surfaces mock_abort_after_chunks as a broken stream', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o', messages, stream: true, ...({ mock_output_tokens: 50, mock_abort_after_chunks: 3 } as object),
    });
    let seen = 0;
    const err = await (async () => {
      for await (const _ of stream) seen++;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(seen).toBe(3);
  });
});

describe('raw bytes on the wire', () => {
  it('frames a chat stream as data lines, blank lines and a final [DONE]', async () => {
    const res = await postJson('/v1/chat/completions', {
      model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true }, mock_output_tokens: 3,
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const { text } = await readAll(res);
    const frames = text.split('\n\n');
    expect(frames.at(-1)).toBe('');
    expect(frames.at(-2)).toBe('data: [DONE]');
    expect(frames).toHaveLength(1 + 3 + 1 + 1 + 1 + 1);
    for (const f of frames.slice(0, -2)) expect(f).toMatch(/^data: \{"id":"chatcmpl-[A-Za-z0-9]+","object":"chat\.completion\.chunk",[^\n]*\}$/);
    // Stream obfuscation is on by default: every chunk ends with its `obfuscation` padding, after `usage`.
    expect(frames[0]).toMatch(/"choices":\[\{"index":0,"delta":\{"role":"assistant","content":"","refusal":null\},"logprobs":null,"finish_reason":null\}\],"usage":null,"obfuscation":"[A-Za-z0-9]+"\}$/);
    expect(frames[4]).toMatch(/"choices":\[\{"index":0,"delta":\{\},"logprobs":null,"finish_reason":"stop"\}\],"usage":null,"obfuscation":"[A-Za-z0-9]+"\}$/);
    expect(frames[5]).toMatch(/"choices":\[\],"usage":\{"prompt_tokens":\d+,"completion_tokens":3,"total_tokens":\d+,.*\}\},"obfuscation":"[A-Za-z0-9]+"\}$/);
  });

  it('leaves the obfuscation out with include_obfuscation: false, and the usage out without include_usage', async () => {
    const res = await postJson('/v1/chat/completions', {
      model: 'gpt-4o', messages, stream: true, stream_options: { include_obfuscation: false }, mock_output_tokens: 1,
    });
    const frames = (await readAll(res)).text.split('\n\n');
    expect(frames).toHaveLength(1 + 1 + 1 + 1 + 1);
    expect(frames[0]).toMatch(/"choices":\[\{"index":0,"delta":\{"role":"assistant","content":"","refusal":null\},"logprobs":null,"finish_reason":null\}\]\}$/);
    expect(frames[2]).toMatch(/"choices":\[\{"index":0,"delta":\{\},"logprobs":null,"finish_reason":"stop"\}\]\}$/);
  });

  it('frames an Anthropic stream as event/data pairs in the documented order', async () => {
    const res = await postJson('/v1/messages', { model: 'claude-sonnet-4-20250514', max_tokens: 2, messages, stream: true });
    const { text } = await readAll(res);
    const frames = text.split('\n\n');
    expect(frames.pop()).toBe('');
    const names = frames.map((f) => {
      const m = /^event: ([a-z_]+)\ndata: (\{.*\})$/.exec(f);
      expect(m, f).not.toBeNull();
      expect(JSON.parse(m![2]!).type).toBe(m![1]);
      return m![1];
    });
    expect(names).toEqual([
      'message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta',
      'content_block_stop', 'message_delta', 'message_stop',
    ]);
    expect(frames[6]).toBe(
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null,"stop_details":null},"usage":{"output_tokens":2}}',
    );
  });

  it('aborts the connection after k frames, leaving the chunked body unterminated', async () => {
    const res = await postJson('/v1/chat/completions', { model: 'm', messages, stream: true, mock_abort_after_chunks: 4 });
    expect(res.status).toBe(200);
    const { text, error } = await readAll(res);
    expect(error).toBeDefined();
    expect(text.split('\n\n').filter(Boolean)).toHaveLength(4);
    const none = await postJson('/v1/chat/completions', { model: 'm', messages, stream: true, mock_abort_after_chunks: 0 });
    expect(none.status).toBe(200);
    const empty = await readAll(none);
    expect(empty.error).toBeDefined();
    expect(empty.text).toBe('');
  });

  it('answers malformed JSON with an OpenAI 400', async () => {
    const res = await fetch(url + '/v1/chat/completions', { method: 'POST', body: '{"model": ' });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(Object.keys(body.error)).toEqual(['message', 'type', 'param', 'code']);
    expect(body.error.type).toBe('invalid_request_error');
  });

  it('answers unknown paths with an OpenAI 404', async () => {
    const res = await postJson('/v1/unknown', {});
    expect(res.status).toBe(404);
    expect((await res.json()).error.message).toBe('Invalid URL (POST /v1/unknown)');
  });

  it('answers a stored-object id that is not valid percent-encoding with a 404, and keeps serving', async () => {
    for (const path of ['/v1/conversations/conv_%E0%A4%A', '/v1/conversations/conv_1/items/%ZZ', '/v1/responses/resp_%E0%A4%A']) {
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const { hostname, port } = new URL(url);
        httpRequest({ hostname, port, path }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        })
          .on('error', reject)
          .end();
      });
      expect(status, path).toBe(404);
    }
    expect((await postJson('/v1/conversations', {})).status).toBe(200);
  });
});

describe('timing, backpressure and keep-alive', () => {
  it('honours mock_latency_ms and mock_chunk_delay_ms', async () => {
    const t0 = performance.now();
    const res = await postJson('/v1/chat/completions', { model: 'm', messages, mock_latency_ms: 120 });
    await res.json();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
    const t1 = performance.now();
    const s = await postJson('/v1/chat/completions', { model: 'm', messages, stream: true, mock_output_tokens: 3, mock_chunk_delay_ms: 25 });
    await readAll(s);
    // 1 role + 3 tokens + 1 finish + [DONE] = 6 frames, 5 gaps.
    expect(performance.now() - t1).toBeGreaterThanOrEqual(5 * 25 - 10);
  });

  it('delivers every frame of a large stream to a slow reader', async () => {
    const body = JSON.stringify({ model: 'm', messages, stream: true, mock_output_tokens: 30000 });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(url + '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' } }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    res.pause(); // let the server fill the socket and wait for 'drain'
    await new Promise((r) => setTimeout(r, 150));
    const parser = new SseParser();
    let count = 0;
    let last = '';
    for await (const chunk of res) {
      for (const ev of parser.push(chunk as Buffer)) {
        count++;
        last = ev.data;
      }
    }
    expect(count).toBe(1 + 30000 + 1 + 1);
    expect(last).toBe('[DONE]');
  });

  it('reuses keep-alive connections', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const reused: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(url + '/v1/models', { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        reused.push(req.reusedSocket);
        req.end();
      });
    }
    agent.destroy();
    expect(reused).toEqual([false, true, true]);
  });

  it('survives a client that disconnects mid-stream', async () => {
    const res = await postJson('/v1/chat/completions', { model: 'm', messages, stream: true, mock_output_tokens: 100, mock_chunk_delay_ms: 20 });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    const ok = await client.models.list();
    expect(ok.data.length).toBeGreaterThan(0);
  });
});

describe('recorded requests', () => {
  it('exposes what was received at GET /__mock/requests and clears it with DELETE', async () => {
    await postJson('/v1/chat/completions?trace=1', { model: 'gpt-4o', messages, temperature: 0 }, { 'x-custom': 'yes', authorization: 'Bearer up-key' });
    await fetch(url + '/v1/models');
    const res = await fetch(url + '/__mock/requests');
    const recorded = (await res.json()) as RecordedRequest[];
    expect(recorded).toHaveLength(2);
    expect(recorded[0]).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      url: '/v1/chat/completions?trace=1',
      body: { model: 'gpt-4o', messages, temperature: 0 },
    });
    expect(recorded[0]!.headers['x-custom']).toBe('yes');
    expect(recorded[0]!.headers.authorization).toBe('Bearer up-key');
    expect(recorded[1]).toMatchObject({ method: 'GET', path: '/v1/models', body: null });
    expect((await fetch(url + '/__mock/requests', { method: 'DELETE' })).status).toBe(204);
    expect(await (await fetch(url + '/__mock/requests')).json()).toEqual([]);
    expect(upstream.requests()).toEqual([]);
  });

  it('keeps only the last 1000 requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const get = (i: number) =>
      new Promise<void>((resolve, reject) => {
        const req = httpRequest(`${url}/v1/models?i=${i}`, { agent }, (res) => res.resume().on('end', resolve));
        req.on('error', reject);
        req.end();
      });
    for (let i = 0; i < 1005; i += 67) await Promise.all(Array.from({ length: Math.min(67, 1005 - i) }, (_, j) => get(i + j)));
    agent.destroy();
    const all = upstream.requests();
    expect(all).toHaveLength(1000);
    const seen = new Set(all.map((r) => r.url));
    expect(seen.size).toBe(1000);
  });
});

describe('provider key enforcement', () => {
  let guarded: MockUpstream;
  let gurl: string;
  beforeAll(async () => {
    guarded = createMockUpstream({ latencyMs: 0, outputTokens: 4, apiKey: 'sk-upstream-secret-1234' });
    gurl = await guarded.listen(0, '127.0.0.1');
  });
  afterAll(() => guarded.close());

  it('requires Authorization: Bearer on OpenAI paths', async () => {
    const wrong = new OpenAI({ baseURL: gurl + '/v1', apiKey: 'sk-wrong-key-0000', maxRetries: 0 });
    const err = await wrong.chat.completions.create({ model: 'm', messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
    expect(String((err as Error).message)).not.toContain('sk-wrong-key-0000');
    const missing = await fetch(gurl + '/v1/models');
    expect(missing.status).toBe(401);
    expect((await missing.json()).error.type).toBe('invalid_request_error');
    const right = new OpenAI({ baseURL: gurl + '/v1', apiKey: 'sk-upstream-secret-1234', maxRetries: 0 });
    expect((await right.chat.completions.create({ model: 'm', messages })).usage!.completion_tokens).toBe(4);
  });

  it('requires the key on Anthropic paths (x-api-key, or a bearer token as the SDKs send it since API version 2026-10-21), answering in Anthropic format', async () => {
    const body = { model: 'claude', max_tokens: 10, messages };
    const post = (headers: Record<string, string>) =>
      fetch(gurl + '/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const missing = await post({});
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' }, request_id: missing.headers.get('request-id') });
    const bearer = await post({ authorization: 'Bearer sk-upstream-secret-1234', 'anthropic-version': '2023-06-01' });
    expect(bearer.status).toBe(200);
    const wrongBearer = await post({ authorization: 'Bearer nope' });
    expect((await wrongBearer.json()).error.message).toBe('invalid x-api-key');
    const wrong = await post({ 'x-api-key': 'nope' });
    expect((await wrong.json()).error.message).toBe('invalid x-api-key');
    const ok = await post({ 'x-api-key': 'sk-upstream-secret-1234', 'anthropic-version': '2023-06-01' });
    expect(ok.status).toBe(200);
    expect((await ok.json()).usage.output_tokens).toBe(4);
  });

  it('records rejected requests too', async () => {
    guarded.clearRequests();
    await fetch(gurl + '/v1/models', { headers: { authorization: 'Bearer bad' } });
    expect(guarded.requests().map((r) => r.headers.authorization)).toEqual(['Bearer bad']);
  });
});

describe('background responses, as OpenAI answers them', () => {
  it('answered queued, in_progress while generating, then completed with usage; cancelled when cancelled in time', async () => {
    const slow = createMockUpstream({ latencyMs: 200, outputTokens: 8 });
    const c = new OpenAI({ baseURL: (await slow.listen(0, '127.0.0.1')) + '/v1', apiKey: 'x', maxRetries: 0 });
    try {
      const created = await c.responses.create({ model: 'gpt-4.1', input: 'Hi.', background: true });
      expect(created).toMatchObject({ status: 'queued', background: true, output: [], usage: null });
      // Generated a latency after the answer: a retrieval (itself a latency long) lands just before it.
      expect(await c.responses.retrieve(created.id)).toMatchObject({ status: 'in_progress', usage: null });
      await new Promise((r) => setTimeout(r, 250));
      const done = await c.responses.retrieve(created.id);
      expect(done).toMatchObject({ status: 'completed', usage: { output_tokens: 8 } });
      expect(done.output.length).toBeGreaterThan(0);

      const other = await c.responses.create({ model: 'gpt-4.1', input: 'Hi.', background: true });
      expect(await c.responses.cancel(other.id)).toMatchObject({ status: 'cancelled', usage: null });
      await new Promise((r) => setTimeout(r, 150));
      expect(await c.responses.retrieve(other.id)).toMatchObject({ status: 'cancelled' });
      // A response made in the foreground is answered whole.
      expect(await c.responses.create({ model: 'gpt-4.1', input: 'Hi.' })).toMatchObject({ status: 'completed', background: false });
    } finally {
      await slow.close();
    }
  });
});
