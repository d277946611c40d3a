// A relayed Anthropic error named two different requests: Anthropic's error bodies carry the request's id
// (`{"type":"error","error":{...},"request_id":"req_..."}`, as its `request-id` header does), and the
// gateway passed that body on under its own `request-id` header, so the SDK's `err.requestID` (the header)
// and `err.error.request_id` (the body) disagreed. Now both are the gateway's id, the ledger row's, as on
// every other answer; Anthropic's own id stays findable in `x-upstream-request-id`.
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstreamUrl } = useBehindMock({ latencyMs: 0, outputTokens: 6, apiKey: 'sk-ant-up' }, (url) => `
providers: {claude: {type: anthropic, base_url: "${url}", api_key: sk-ant-up}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: claude, model: claude/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-k, project: p}]
`);

type ApiError = InstanceType<typeof Anthropic.APIError>;
const messages = [{ role: 'user' as const, content: 'hi' }];
const client = (): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: 'tg-k', maxRetries: 0 });
// `mock_*` fields steer the mock upstream; the SDK's types do not know them.
const failing = (status: number): Anthropic.MessageCreateParamsNonStreaming => ({ model: 'claude', max_tokens: 20, messages, mock_error_status: status }) as Anthropic.MessageCreateParamsNonStreaming;
const caught = (p: Promise<unknown>): Promise<ApiError> => p.then(() => expect.fail('expected an error'), (e: unknown) => e as ApiError);

describe('the request id of an Anthropic error', () => {
  it('is in the body and the header alike, from the mock upstream as from Anthropic', async () => {
    // Plain fetch with `x-api-key`, as the gateway's provider sends it (this SDK version sends a Bearer token).
    const res = await fetch(`${upstreamUrl()}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-up', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(failing(529)),
    });
    expect(res.status).toBe(529);
    const id = res.headers.get('request-id');
    expect(id).toMatch(/^req_/);
    expect(await res.text()).toBe(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"${id}"}`);
  });

  it('is one id, the ledger row’s, when the gateway relays the upstream’s error; the upstream’s is beside it', async () => {
    for (const status of [400, 500, 529]) {
      const err = await caught(client().messages.create(failing(status)));
      expect(err.status).toBe(status);
      const ledgerId = gw().calls.at(-1)!.requestId;
      expect(err.requestID).toBe(ledgerId);
      expect((err.error as { request_id?: unknown }).request_id).toBe(ledgerId);
      expect(err.headers!.get('x-tollgate-request-id')).toBe(ledgerId);
      const upstreamId = err.headers!.get('x-upstream-request-id');
      expect(upstreamId).toMatch(/^req_/);
      expect(upstreamId).not.toBe(ledgerId);
      // Only the id changed: the provider's error is otherwise as it sent it.
      expect((err.error as { error: unknown }).error).toMatchObject({ type: status === 529 ? 'overloaded_error' : status === 500 ? 'api_error' : 'invalid_request_error' });
    }
  });

  it('is one id on a relayed count_tokens error too', async () => {
    const err = await caught(client().messages.countTokens({ model: 'claude', messages, mock_error_status: 500 } as Anthropic.MessageCountTokensParams));
    expect(err.status).toBe(500);
    expect((err.error as { request_id?: unknown }).request_id).toBe(err.requestID);
    expect(err.headers!.get('x-tollgate-request-id')).toBe(err.requestID);
    expect(err.headers!.get('x-upstream-request-id')).not.toBe(err.requestID);
  });

  it('is one id on the gateway’s own errors, as before', async () => {
    const err = await caught(client().messages.create({ model: 'no-such-model', max_tokens: 5, messages }));
    expect(err.status).toBe(404);
    expect((err.error as { request_id?: unknown }).request_id).toBe(err.requestID);
    expect(err.headers!.get('x-tollgate-request-id')).toBe(err.requestID);
  });
});
