import { describe, expect, it } from 'vitest';
import { useMockUpstream } from '../../../test/helpers/mock-upstream-hooks.js';
import type { UpstreamRequest } from '../provider.js';
import { OpenAIProvider } from './openai-provider.js';
import { refusesStreamOptions, unlessStreamOptionsRefused } from './stream-options-refusal.js';

const refuses = (status: number, body: unknown): boolean => refusesStreamOptions(status, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));

describe('refusesStreamOptions', () => {
  it('recognises the refusals of Azure OpenAI, OpenAI-style strict servers and pydantic servers', () => {
    // Azure before api-version 2024-06-01 (openai/openai-python#1469, langchain-ai/langchain#23552).
    expect(refuses(400, '{"error":{"code":null,"message":"Unrecognized request argument supplied: stream_options","param":null,"type":"invalid_request_error"}}')).toBe(true);
    // The same with Azure's support link after it (songquanpeng/one-api#1423).
    expect(refuses(400, { error: { code: null, message: 'Unrecognized request argument supplied: stream_options. Please contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 for further questions.', param: null, type: 'invalid_request_error' } })).toBe(true);
    // Later Azure deployments and strict OpenAI-style servers (agno-agi/agno#1066).
    expect(refuses(400, { error: { message: "Unknown parameter: 'stream_options'.", type: 'invalid_request_error', param: 'stream_options', code: 'unknown_parameter' } })).toBe(true);
    expect(refuses(400, { error: { message: "Unknown parameter: 'stream_options.include_usage'.", type: 'invalid_request_error', param: 'stream_options.include_usage', code: 'unknown_parameter' } })).toBe(true);
    // A FastAPI server that forbids extra fields.
    expect(refuses(422, { detail: [{ type: 'extra_forbidden', loc: ['body', 'stream_options'], msg: 'Extra inputs are not permitted', input: { include_usage: true } }] })).toBe(true);
  });

  it('takes no other answer for one', () => {
    expect(refuses(400, { error: { message: "Invalid value for 'messages'.", type: 'invalid_request_error', param: 'messages', code: null } })).toBe(false);
    // Named elsewhere than where an error says what it refuses: a server quoting the request back.
    expect(refuses(400, { error: { message: 'Bad request', type: 'invalid_request_error' }, request: { stream_options: { include_usage: true } } })).toBe(false);
    // Not a refusal of the request's fields: the upstream may have worked on it.
    expect(refuses(500, { error: { message: 'Unrecognized request argument supplied: stream_options' } })).toBe(false);
    expect(refuses(429, { error: { message: 'stream_options: rate limited' } })).toBe(false);
    expect(refuses(400, 'Unrecognized request argument supplied: stream_options')).toBe(false);
  });
});

describe('unlessStreamOptionsRefused', () => {
  const mock = useMockUpstream();

  it('sends the call again without the field, remembers the refusal, and says so in the log once', async () => {
    const provider = new OpenAIProvider({ name: 'azure', type: 'openai', baseUrl: `${mock.url}/v1`, apiKey: 'sk-up', headers: {}, timeoutMs: 5000 });
    const warnings: Array<{ obj: object; msg: string }> = [];
    const log = { warn: (obj: object, msg: string) => void warnings.push({ obj, msg }) };
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true, mock_refuse_stream_options: true };
    const sent: UpstreamRequest = { endpoint: 'chat', body: { ...body, stream_options: { include_usage: true } }, stream: true, requestId: 'r1' };
    const answer = await unlessStreamOptionsRefused(provider, sent, await provider.send(sent), log);
    expect(answer.status).toBe(200);
    for await (const _ of answer.body); // read to the end
    expect(provider.streamUsage).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.obj).toEqual({ provider: 'azure', status: 400 });
    expect(warnings[0]!.msg).toContain('providers.azure.stream_usage: false');
    // An answer that is no refusal of the field comes back as it was, and nothing is said.
    const other: UpstreamRequest = { endpoint: 'chat', body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true, mock_error_status: 400 }, stream: true, requestId: 'r2' };
    const passed = await unlessStreamOptionsRefused(provider, other, await provider.send(other), log);
    expect(passed.status).toBe(400);
    expect(warnings).toHaveLength(1);
  });
});
