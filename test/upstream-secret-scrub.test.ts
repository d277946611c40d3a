// The gateway never shows a client its own provider secrets. An OpenAI-compatible server (vLLM, a proxy,
// a misconfigured internal service) may quote the Authorization header it was sent in an error message;
// the mock upstream does so when asked (`mock_echo_credentials`). Every relayed upstream error (bodies on
// every endpoint, errors before a stream starts, error events inside one, retrievals of stored responses)
// reaches the client with the key masked as OpenAI masks keys, and Content-Length fits the masked body.
import type { IncomingMessage, ServerResponse } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { maskSecret, SecretMask } from '../src/providers/secret-mask.js';
import { Gateway } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { ManualClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { writeConfig } from './helpers/processes.js';
import { responseObject, startWireUpstream, type WireUpstream } from './helpers/wire-upstream.js';

/** The provider key (OpenAI's and Anthropic's providers), 20+ characters: masked to its ends. */
const KEY = 'sk-proj-Upstream0Secret1Key2ForTests3abcd';
/** An extra credential header a provider is configured with. */
const EXTRA = 'extra-header-secret-0042';
/** Under 20 characters: masked to asterisks only. */
const SHORT = 'sk-ant-short1';
const SECRETS = [KEY, EXTRA, SHORT];
const MASKED_KEY = `sk-${'*'.repeat(KEY.length - 7)}abcd`;
const MASKED_EXTRA = `ext${'*'.repeat(EXTRA.length - 7)}0042`;

const echo = { mock_echo_credentials: true };
const messages = [{ role: 'user' as const, content: 'hi' }];

let upstream: MockUpstream;
let wire: WireUpstream;
let gateway: Gateway;
let app: ReturnType<typeof buildServer>;
let url: string;
/** Everything the gateway logged, at every level. */
const logs: string[] = [];

beforeAll(async () => {
  // No key demanded: the mock echoes whatever each provider sends.
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 8 });
  const mockUrl = await upstream.listen(0, '127.0.0.1');
  wire = await startWireUpstream(storedResponses);
  const policy = loadPolicy([
    writeConfig(`
providers:
  openai: {type: openai, base_url: "${mockUrl}/v1", api_key: ${KEY}}
  extra: {type: openai, base_url: "${mockUrl}/v1", api_key: ${KEY}, headers: {X-Api-Key: ${EXTRA}}}
  claude: {type: anthropic, base_url: "${mockUrl}", api_key: ${KEY}}
  short: {type: anthropic, base_url: "${mockUrl}", api_key: ${SHORT}}
  stored: {type: openai, base_url: "${wire.url}", api_key: ${KEY}}
projects:
  p: {daily_limit: 100000000}
routes:
  main:
    chat_models:
      - {model_id: gpt, model: openai/gpt-4.1}
      - {model_id: gpt-extra, model: extra/gpt-4.1}
      - {model_id: claude, model: claude/claude-sonnet-4-5}
      - {model_id: claude-short, model: short/claude-sonnet-4-5}
      - {model_id: gpt-stored, model: stored/gpt-4.1}
    embedding_models:
      - {model_id: emb, model: openai/text-embedding-3-small}
keys:
  - {id: k, key: tg-k, project: p}
`),
  ]);
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 12));
  gateway = new Gateway(policy, new MemoryCounterStore(clock, policy.server.timezone), clock);
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) });
  app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes, logger });
  url = await listenLocal(app);
});
afterAll(async () => {
  if (app) await closeApp(app);
  await gateway?.close();
  await upstream?.close();
  await wire?.close();
});

/** An upstream of stored responses: creates them, then answers every retrieval with an error quoting its key. */
function storedResponses(req: IncomingMessage, res: ServerResponse, raw: string): void {
  const quoted = `bad request from ${req.headers.authorization}`;
  if (req.method === 'POST' && raw.includes('"input":"fail"')) {
    // The key quoted in a header the client is given (the provider's request id), too.
    res.writeHead(400, { 'content-type': 'application/json', 'x-request-id': `req_${KEY}` });
    return void res.end(JSON.stringify({ error: { message: quoted, type: 'invalid_request_error', param: null, code: null } }));
  }
  if (req.method === 'POST') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify(responseObject('resp_echo1', JSON.parse(raw) as Record<string, unknown>, 'completed', { input_tokens: 3, output_tokens: 1, total_tokens: 4 })));
  }
  if (req.url?.includes('stream=true')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const error = `event: error\ndata: ${JSON.stringify({ type: 'error', sequence_number: 5, code: 'server_error', message: quoted, param: null })}\n\n`;
    // Split inside the key: the masking must see the whole event.
    const cut = error.indexOf(KEY) + 10;
    res.write(error.slice(0, cut));
    return void setTimeout(() => res.end(error.slice(cut)), 20);
  }
  res.writeHead(500, { 'content-type': 'application/json', 'x-request-id': `req_${KEY}` });
  res.end(JSON.stringify({ error: { message: quoted, type: 'server_error', param: null, code: null } }));
}

/** A raw call to the gateway: the bytes as they arrived. */
async function call(method: string, path: string, body?: object): Promise<{ status: number; headers: Headers; text: string; bytes: number }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, text: buf.toString('utf8'), bytes: buf.length };
}

/** No secret in `text`, and each of `masked` in it. */
function expectMasked(text: string, ...masked: string[]): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
  for (const m of masked) expect(text).toContain(m);
}

/** An error body as received: masked, and its Content-Length that of the bytes sent. */
function expectMaskedBody(res: Awaited<ReturnType<typeof call>>, status: number): void {
  expect(res.status).toBe(status);
  expect(Number(res.headers.get('content-length'))).toBe(res.bytes);
  expect(() => JSON.parse(res.text)).not.toThrow();
  expectMasked(res.text, MASKED_KEY);
}

const openai = (): OpenAI => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const anthropic = (): Anthropic => new Anthropic({ baseURL: url, apiKey: 'tg-k', maxRetries: 0 });

describe('maskSecret', () => {
  it("keeps a long key's first 3 and last 4 characters, and nothing of a short one", () => {
    expect(maskSecret(KEY)).toBe(MASKED_KEY);
    expect(maskSecret('0123456789abcdefghij')).toBe(`012${'*'.repeat(13)}ghij`);
    expect(maskSecret(SHORT)).toBe('*'.repeat(SHORT.length));
  });

  it('masks credential headers without their auth scheme, and leaves placeholders and other headers alone', () => {
    const mask = SecretMask.forUpstream(undefined, { authorization: `Bearer ${KEY}`, 'api-key': EXTRA, 'OpenAI-Organization': 'org-0123456789', 'x-other': 'ollama' });
    expect(mask.text(`got ${KEY} and ${EXTRA} for org-0123456789`)).toBe(`got ${MASKED_KEY} and ${MASKED_EXTRA} for org-0123456789`);
    expect(SecretMask.forUpstream('ollama', {}).empty).toBe(true);
    // A key passed in the base URL's query, as sent (percent-encoded) and as read; other parameters are no secret.
    const query = SecretMask.forUpstream(undefined, {}, `?api-version=2024-10-21&key=${encodeURIComponent(`${EXTRA}/+`)}`);
    expect(query.text(`${EXTRA}/+ or ${encodeURIComponent(`${EXTRA}/+`)}, version 2024-10-21`)).toBe(`ext${'*'.repeat(EXTRA.length - 5)}42/+ or ext${'*'.repeat(EXTRA.length - 1)}F%2B, version 2024-10-21`);
  });
});

describe('upstream error bodies', () => {
  it.each([
    ['/v1/chat/completions', { model: 'gpt', messages }],
    ['/v1/completions', { model: 'gpt', prompt: 'hi' }],
    ['/v1/embeddings', { model: 'emb', input: 'hi' }],
    ['/v1/responses', { model: 'gpt', input: 'hi' }],
    ['/v1/chat/completions', { model: 'gpt', messages, stream: true }],
    ['/v1/responses', { model: 'gpt', input: 'hi', stream: true }],
  ])('%s %j: the key is masked, Content-Length fits', async (path, body) => {
    expectMaskedBody(await call('POST', path, { ...body, ...echo, mock_error_status: 400 }), 400);
  });

  it('on /v1/messages and its count_tokens, streamed or not, and on chat translated to Anthropic', async () => {
    expectMaskedBody(await call('POST', '/v1/messages', { model: 'claude', max_tokens: 20, messages, ...echo, mock_error_status: 400 }), 400);
    expectMaskedBody(await call('POST', '/v1/messages', { model: 'claude', max_tokens: 20, messages, stream: true, ...echo, mock_error_status: 529 }), 529);
    expectMaskedBody(await call('POST', '/v1/messages/count_tokens', { model: 'claude', messages, ...echo, mock_error_status: 400 }), 400);
    expectMaskedBody(await call('POST', '/v1/chat/completions', { model: 'claude', messages, ...echo, mock_error_status: 400 }), 400);
  });

  it('reaches the OpenAI SDK masked, streamed or not', async () => {
    for (const stream of [false, true]) {
      const err = await openai()
        .chat.completions.create({ model: 'gpt', messages, stream, ...(echo as object), ...({ mock_error_status: 422 } as object) })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.UnprocessableEntityError);
      expectMasked((err as Error).message, MASKED_KEY);
    }
  });

  it('reaches the Anthropic SDK masked, streamed or not', async () => {
    for (const stream of [false, true]) {
      const err = await anthropic()
        .messages.create({ model: 'claude', max_tokens: 20, messages, stream, ...(echo as object), ...({ mock_error_status: 400 } as object) })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expectMasked(JSON.stringify((err as InstanceType<typeof Anthropic.APIError>).error), MASKED_KEY);
    }
  });

  it('masks the key in the headers relayed with an error', async () => {
    const res = await call('POST', '/v1/responses', { model: 'gpt-stored', input: 'fail' });
    expectMaskedBody(res, 400);
    expect(res.headers.get('x-upstream-request-id')).toBe(`req_${MASKED_KEY}`);
  });

  it('masks an extra credential header the provider sends, and a key under 20 characters to asterisks only', async () => {
    const extra = await call('POST', '/v1/chat/completions', { model: 'gpt-extra', messages, ...echo, mock_error_status: 400 });
    expectMaskedBody(extra, 400);
    expect(extra.text).toContain(`x-api-key: ${MASKED_EXTRA}`);
    const short = await call('POST', '/v1/messages', { model: 'claude-short', max_tokens: 20, messages, ...echo, mock_error_status: 400 });
    expect(Number(short.headers.get('content-length'))).toBe(short.bytes);
    expectMasked(short.text, `x-api-key: ${'*'.repeat(SHORT.length)}`);
  });
});

describe('error events inside a stream', () => {
  it.each([
    ['/v1/chat/completions', { model: 'gpt', messages }],
    ['/v1/responses', { model: 'gpt', input: 'hi' }],
    ['/v1/messages', { model: 'claude', max_tokens: 50, messages }],
    ['/v1/chat/completions', { model: 'claude', messages }],
  ])('%s %j: the key is masked in the error event', async (path, body) => {
    const res = await call('POST', path, { ...body, stream: true, ...echo, mock_error_event_after_chunks: 3 });
    expect(res.status).toBe(200);
    expect(res.text).toContain('error');
    expectMasked(res.text, MASKED_KEY);
  });

  it('is masked when it comes while frames are held at the output cap', async () => {
    // Claude's output is metered by an estimate: past max_tokens by it, frames are held until the
    // provider's count decides; an error event then ends the stream with the gateway's own error event.
    const body = { model: 'claude', max_tokens: 10, messages, stream: true, mock_ignore_max_tokens: true, mock_output_tokens: 30, mock_error_event_after_chunks: 15 };
    const res = await call('POST', '/v1/messages', { ...body, ...echo });
    expect(res.text).toContain('"type":"api_error"');
    expectMasked(res.text, MASKED_KEY);
  });

  it('reaches the SDKs masked', async () => {
    const chat = await (async () => {
      for await (const _ of await openai().chat.completions.create({ model: 'gpt', messages, stream: true, ...(echo as object), ...({ mock_error_event_after_chunks: 3 } as object) }));
    })().catch((e: unknown) => e);
    expect(chat).toBeInstanceOf(OpenAI.APIError);
    expectMasked((chat as Error).message, MASKED_KEY);
    const stream = anthropic().messages.stream({ model: 'claude', max_tokens: 50, messages, ...(echo as object), ...({ mock_error_event_after_chunks: 3 } as object) });
    const messagesErr = await stream.finalMessage().catch((e: unknown) => e);
    expect(messagesErr).toBeInstanceOf(Anthropic.APIError);
    expectMasked(JSON.stringify((messagesErr as InstanceType<typeof Anthropic.APIError>).error), MASKED_KEY);
  });
});

describe('retrievals of stored responses', () => {
  it('mask the key in an error body, its headers, and an error event of a resumed stream', async () => {
    expect((await call('POST', '/v1/responses', { model: 'gpt-stored', input: 'hi' })).status).toBe(200);
    const got = await call('GET', '/v1/responses/resp_echo1');
    expectMaskedBody(got, 500);
    expect(got.headers.get('x-upstream-request-id')).toBe(`req_${MASKED_KEY}`);
    const resumed = await call('GET', '/v1/responses/resp_echo1?stream=true');
    expect(resumed.text).toContain('event: error');
    expectMasked(resumed.text, MASKED_KEY);
  });
});

describe('the log', () => {
  it('holds none of the secrets', async () => {
    // An upstream 401 is logged (the operator is told the provider refused the key): the log is being written.
    expect((await call('POST', '/v1/chat/completions', { model: 'gpt', messages, ...echo, mock_error_status: 401 })).status).toBe(502);
    expect(logs.join('')).toContain('refused the gateway');
    expectMasked(logs.join(''));
  });
});
