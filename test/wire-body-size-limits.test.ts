// The gateway refused bodies over 10 MiB on every endpoint, while Anthropic's Messages API takes requests
// up to 32 MB and OpenAI up to 50 MB of images or files (base64-encoded in the body): a call the provider
// would serve failed at the gateway. Unless `server.max_body_bytes` says otherwise, each endpoint now takes
// what its provider takes (32 MiB on /v1/messages, 80 MiB on the OpenAI endpoints), and a body over the
// limit gets a 413 in that provider's error format, with nothing sent upstream.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MockUpstream } from '../src/mock-upstream/index.js';
import { startBehindMock, startTestGateway, stopBehindMock, type TestGateway } from './helpers/in-process.js';

const MiB = 1024 * 1024;
let upstream: MockUpstream;
let gw: TestGateway;
let small: TestGateway;
let upstreamUrl: string;

const config = (url: string, server = ''): string => `
${server}
providers:
  openai: {type: openai, base_url: "${url}/v1", api_key: sk-up}
  claude: {type: anthropic, base_url: "${url}", api_key: sk-up}
projects: {p: {daily_limit: 100000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: openai/gpt-4o}, {model_id: claude, model: claude/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-k, project: p}]
`;

beforeAll(async () => {
  ({ upstream, gw } = await startBehindMock({ latencyMs: 0, outputTokens: 4, apiKey: 'sk-up' }, (url) => config((upstreamUrl = url))));
  // An explicit limit holds on every endpoint, whatever its provider takes.
  small = await startTestGateway(config(upstreamUrl, 'server: {max_body_bytes: 1048576}'));
}, 30_000);
afterAll(async () => {
  await small?.close();
  await stopBehindMock(gw, upstream);
});
beforeEach(() => upstream.clearRequests());

/** A base64 PNG of 16x16 pixels padded to `bytes` decoded bytes: its size in the body, its cost by its pixels. */
function pngBase64(bytes: number): string {
  const png = Buffer.alloc(bytes);
  Buffer.from('89504e470d0a1a0a0000000d49484452000000100000001008060000001f f3ff61'.replace(/ /g, ''), 'hex').copy(png);
  return png.toString('base64');
}

const anthropic = (gateway: TestGateway): Anthropic => new Anthropic({ baseURL: gateway.url, apiKey: 'tg-k', maxRetries: 0 });
const openai = (gateway: TestGateway): OpenAI => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-k', maxRetries: 0 });

/** A Messages request carrying `images` PNGs of `each` bytes. */
function messagesWith(images: number, each: number): Anthropic.MessageCreateParamsNonStreaming {
  const data = pngBase64(each);
  const content: Anthropic.ContentBlockParam[] = Array.from({ length: images }, () => ({ type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/png' as const, data } }));
  return { model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: [...content, { type: 'text', text: 'What are these?' }] }] };
}

/** A chat request carrying `images` PNG data URLs of `each` bytes. */
function chatWith(images: number, each: number): OpenAI.ChatCompletionCreateParamsNonStreaming {
  const url = `data:image/png;base64,${pngBase64(each)}`;
  const parts: OpenAI.ChatCompletionContentPart[] = Array.from({ length: images }, () => ({ type: 'image_url' as const, image_url: { url } }));
  return { model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: [...parts, { type: 'text', text: 'What are these?' }] }] };
}

const bodySize = (body: object): number => Buffer.byteLength(JSON.stringify(body));

describe('the default body limit on /v1/messages: what Anthropic takes', () => {
  it('takes a body over the old 10 MiB default', async () => {
    const body = messagesWith(5, 4 * MiB); // Anthropic's 5 MB per image, 5.3 MiB each in base64
    expect(bodySize(body)).toBeGreaterThan(20 * MiB);
    const answer = await anthropic(gw).messages.create(body);
    expect(answer.type).toBe('message');
    expect(upstream.requests()).toHaveLength(1);
  });

  it('refuses a body over 32 MiB with Anthropic’s 413, sending nothing upstream', async () => {
    const body = messagesWith(7, 4 * MiB);
    expect(bodySize(body)).toBeGreaterThan(32 * MiB);
    const err = (await anthropic(gw).messages.create(body).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBe(413);
    expect(err.error).toEqual({ type: 'error', error: { type: 'request_too_large', message: expect.stringContaining(`${32 * MiB} bytes`) }, request_id: err.requestID });
    expect(upstream.requests()).toHaveLength(0);
  });
});

describe('the default body limit on the OpenAI endpoints: what OpenAI takes', () => {
  it('takes a body over the old 10 MiB default, and over Anthropic’s 32 MiB', async () => {
    const body = chatWith(4, 12 * MiB); // 48 MiB of images, 64 MiB in base64
    expect(bodySize(body)).toBeGreaterThan(60 * MiB);
    const answer = await openai(gw).chat.completions.create(body);
    expect(answer.object).toBe('chat.completion');
    expect(upstream.requests()).toHaveLength(1);
  });

  it('refuses a body over 80 MiB with OpenAI’s error format, sending nothing upstream', async () => {
    const body = chatWith(4, 16 * MiB);
    expect(bodySize(body)).toBeGreaterThan(80 * MiB);
    const err = (await openai(gw).chat.completions.create(body).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(413);
    expect(err.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining(`${80 * MiB} bytes`) });
    expect(upstream.requests()).toHaveLength(0);
  });
});

describe('server.max_body_bytes, when set', () => {
  it('holds on every endpoint, in each provider’s format', async () => {
    const refusedMessages = (await anthropic(small).messages.create(messagesWith(1, 2 * MiB)).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(refusedMessages.status).toBe(413);
    expect(refusedMessages.error).toMatchObject({ type: 'error', error: { type: 'request_too_large', message: expect.stringContaining('1048576 bytes') } });
    const refusedChat = (await openai(small).chat.completions.create(chatWith(1, 2 * MiB)).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(refusedChat.status).toBe(413);
    expect(refusedChat.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('1048576 bytes') });
    expect(upstream.requests()).toHaveLength(0);
    // Below it, served.
    expect((await anthropic(small).messages.create(messagesWith(1, 256 * 1024))).type).toBe('message');
  });
});
