import { describe, expect, it } from 'vitest';
import { refusesStreamOptions } from './stream-options-refusal.js';

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
