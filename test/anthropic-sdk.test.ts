// The official @anthropic-ai/sdk client against a gateway in front of the mock upstream (both real HTTP servers).
import { beforeEach, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { countTextTokens, estimateInput } from '../src/tokens/index.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const UPSTREAM_KEY = 'sk-upstream-secret';
const MODEL = 'claude-sonnet-4-20250514';

function config(url: string): string {
  return `
server: {timezone: UTC}
enforcement: {clamp_max_tokens: false}   # so that the second call of carol is refused, not clamped
providers:
  claude: {type: anthropic, base_url: "${url}", api_key: ${UPSTREAM_KEY}}
  gpt: {type: openai, base_url: "${url}/v1", api_key: ${UPSTREAM_KEY}}
projects:
  p: {daily_limit: 1000000}
  tiny: {daily_limit: 300}
users:
  t: {daily_limit: 500000, rate_limit: 1000}
  counter: {rate_limit: 2}
routes:
  claude:
    chat_models:
      - {model_id: claude-sonnet-4, model: claude/${MODEL}}
    token_limiting:
      scope: user
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 100000}
  gpt:
    chat_models: [{model_id: gpt-4o, model: gpt/gpt-4o}]
keys:
  - {id: alice, key: tg-alice, user: alice, tier: t, project: p}
  - {id: carol, key: tg-carol, user: carol, project: tiny}
  - {id: dave, key: tg-dave, user: dave, tier: counter, project: p}
`;
}

function client(key = 'tg-alice', opts: ConstructorParameters<typeof Anthropic>[0] = {}): Anthropic {
  return new Anthropic({ baseURL: gw().url, apiKey: key, maxRetries: 0, ...opts });
}

const ask = [{ role: 'user' as const, content: 'Say hello to the gateway.' }];
const lastCall = () => gw().calls[gw().calls.length - 1];

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 20, apiKey: UPSTREAM_KEY }, config);
beforeEach(() => upstream().clearRequests());

describe('messages', () => {
  it('answers through the SDK with the provider key, the client API version and the rewritten model', async () => {
    const { data, response } = await client().messages.create({ model: 'claude-sonnet-4', max_tokens: 100, messages: ask }).withResponse();
    expect(data.type).toBe('message');
    expect(data.content[0]).toMatchObject({ type: 'text' });
    expect(data.usage.output_tokens).toBe(20);
    expect(response.headers.get('x-tollgate-request-id')).toMatch(/^req_/);
    // tokens: the tightest token limit of any kind; input/output: the tightest that counts that side.
    expect(response.headers.get('anthropic-ratelimit-tokens-limit')).toBe('100000');
    expect(response.headers.get('anthropic-ratelimit-input-tokens-limit')).toBe('500000');
    expect(response.headers.get('anthropic-ratelimit-output-tokens-limit')).toBe('100000');
    expect(Number(response.headers.get('anthropic-ratelimit-output-tokens-remaining'))).toBeLessThanOrEqual(100000 - 100);
    expect(response.headers.get('anthropic-ratelimit-requests-limit')).toBe('1000');
    expect(response.headers.get('anthropic-ratelimit-tokens-reset')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBeNull();

    const [sent] = upstream().requests();
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(sent.headers['anthropic-version']).toMatch(/^\d{4}-\d\d-\d\d$/); // whichever the SDK sends
    expect(sent.headers.authorization).toBeUndefined();
    expect(JSON.stringify(sent.headers)).not.toContain('tg-alice');
    expect(sent.body).toMatchObject({ model: MODEL, max_tokens: 100, messages: ask });

    expect(lastCall()).toMatchObject({ endpoint: 'messages', status: 200, usage: { output: 20, source: 'provider', input: data.usage.input_tokens } });
  });

  it('accepts the Tollgate key as x-api-key, and passes anthropic-version and anthropic-beta through', async () => {
    const res = await fetch(`${gw().url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'tg-alice', 'anthropic-version': '2023-01-01', 'anthropic-beta': 'tools-2024-04-04' },
      body: JSON.stringify({ model: 'claude-sonnet-4', max_tokens: 10, messages: ask }),
    });
    expect(res.status).toBe(200);
    const [sent] = upstream().requests();
    expect(sent.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(sent.headers['anthropic-version']).toBe('2023-01-01');
    expect(sent.headers['anthropic-beta']).toBe('tools-2024-04-04');
    // A client that names no version gets the one every SDK has long sent.
    await fetch(`${gw().url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tg-alice' },
      body: JSON.stringify({ model: 'claude-sonnet-4', max_tokens: 10, messages: ask }),
    });
    expect(upstream().requests()[1].headers['anthropic-version']).toBe('2023-06-01');
  });

  it('streams the exact event sequence; the SDK helpers assemble the message and usage is the last cumulative value', async () => {
    const before = gw().calls.length;
    const stream = client().messages.stream({ model: 'claude-sonnet-4', max_tokens: 100, messages: ask });
    let text = '';
    const events: string[] = [];
    stream.on('text', (delta) => (text += delta));
    stream.on('streamEvent', (e) => events.push(e.type));
    const message = await stream.finalMessage();
    expect(events).toEqual(['message_start', 'content_block_start', ...Array(20).fill('content_block_delta'), 'content_block_stop', 'message_delta', 'message_stop']);
    expect(message.content[0]).toMatchObject({ type: 'text', text });
    expect(text.split(' ')).toHaveLength(20);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.output_tokens).toBe(20);
    // message_start says 1 output token, message_delta says 20 in all: 20 is settled, not 21.
    expect(gw().calls[before]).toMatchObject({ stream: true, streamEnd: 'complete', usage: { output: 20, input: message.usage.input_tokens, source: 'provider' } });
    expect(await gw().store.openReservations()).toBe(0);
  });

  it("lists the models /v1/messages serves for the key in Anthropic's format, page by page", async () => {
    const ids: string[] = [];
    // One per page: the SDK follows has_more with after_id.
    for await (const m of client().models.list({ limit: 1 })) {
      expect(m).toMatchObject({ type: 'model', id: m.id, display_name: m.id, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), lifecycle: 'active' });
      ids.push(m.id);
    }
    // The OpenAI-format gpt-4o is the key's too, but /v1/messages cannot serve it. The route's name alone
    // is a model too (its first chat model).
    expect(ids).toEqual(['claude-sonnet-4', 'claude/claude-sonnet-4', 'claude']);
    const page = await client().models.list({ limit: 1, after_id: 'claude-sonnet-4' });
    expect(page.data.map((m) => m.id)).toEqual(['claude/claude-sonnet-4']);
    expect(page.has_more).toBe(true);
    const last = await client().models.list({ limit: 1, after_id: 'claude/claude-sonnet-4' });
    expect([last.data.map((m) => m.id), last.has_more]).toEqual([['claude'], false]);
    const before = await client().models.list({ limit: 1, before_id: 'claude/claude-sonnet-4' });
    expect([before.data.map((m) => m.id), before.has_more]).toEqual([['claude-sonnet-4'], false]);
    const first = await client().models.list({ limit: 1 });
    expect([first.first_id, first.last_id, first.has_more]).toEqual(['claude-sonnet-4', 'claude-sonnet-4', true]);
    expect(await client().models.retrieve('claude/claude-sonnet-4')).toMatchObject({ type: 'model', id: 'claude/claude-sonnet-4' });
    const missing = await client().models.retrieve('gpt-4o').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as { error: unknown }).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    // Without anthropic-version (the OpenAI SDK, curl) the same path answers in OpenAI's format.
    const openaiStyle = await (await fetch(`${gw().url}/v1/models`, { headers: { authorization: 'Bearer tg-alice' } })).json();
    expect(openaiStyle.object).toBe('list');
    expect(openaiStyle.data.map((m: { id: string }) => m.id)).toContain('gpt-4o');
  });

  it('counts tokens through the provider, without tokens or a call record', async () => {
    const before = gw().calls.length;
    const res = await client().beta.messages.countTokens({ model: 'claude-sonnet-4', messages: ask, betas: ['context-1m-2025-08-07'] });
    expect(res.input_tokens).toBe(estimateInput('messages', { model: MODEL, messages: ask }, MODEL).exact());
    const [sent] = upstream().requests();
    expect(sent.path).toBe('/v1/messages/count_tokens');
    // With the provider's key, never the client's; the client's API version and beta flags go along.
    expect(sent.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    expect(JSON.stringify(sent.headers)).not.toContain('tg-alice');
    expect(sent.headers['anthropic-version']).toMatch(/^\d{4}-\d\d-\d\d$/);
    // (The SDK's beta countTokens adds its own flag to the ones asked for.)
    expect(String(sent.headers['anthropic-beta']).split(',')).toContain('context-1m-2025-08-07');
    expect(gw().calls.length).toBe(before);
  });

  it("counts each count_tokens against the tier's rate_limit, refused with Anthropic's 429 past it", async () => {
    const before = gw().calls.length;
    const count = () => client('tg-dave').messages.countTokens({ model: 'claude-sonnet-4', messages: ask }).withResponse();
    const first = await count();
    expect(first.response.headers.get('anthropic-ratelimit-requests-limit')).toBe('2');
    expect(first.response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('1');
    expect(first.response.headers.get('anthropic-ratelimit-requests-reset')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(first.response.headers.get('x-ratelimit-limit-requests')).toBeNull();
    expect((await count()).response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');

    const err = await count().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: expect.stringContaining('counter') } });
    expect(e.headers?.get('x-tollgate-limit')).toBe('user:dave:rate');
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(e.headers?.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    expect(e.headers?.get('x-ratelimit-limit-requests')).toBeNull();
    // The refused one never reached the provider; none is a call (no tokens, no ledger row).
    expect(upstream().requests()).toHaveLength(2);
    expect(gw().calls.length).toBe(before);
    // The same minute's budget holds /v1/messages too.
    await expect(client('tg-dave').messages.create({ model: 'claude-sonnet-4', max_tokens: 10, messages: ask })).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    expect(await gw().store.openReservations()).toBe(0);
  });
});

describe('errors in Anthropic format', () => {
  it('a 429 is the SDK RateLimitError, with retry-after and anthropic-ratelimit headers', async () => {
    const err = await client('tg-carol')
      .messages.create({ model: 'claude-sonnet-4', max_tokens: 250, messages: ask })
      .then(() => client('tg-carol').messages.create({ model: 'claude-sonnet-4', max_tokens: 250, messages: ask }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect((e.error as { error: { message: string } }).error.message).toContain("Project 'tiny' daily limit reached");
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(e.headers?.get('x-should-retry')).toBe('false');
    expect(e.headers?.get('anthropic-ratelimit-tokens-limit')).toBe('300');
    const used = gw().calls.filter((c) => c.principal.keyId === 'carol').reduce((n, c) => n + c.usage.input + c.usage.output, 0);
    expect(Number(e.headers?.get('anthropic-ratelimit-tokens-remaining'))).toBe(300 - used);
    expect(e.headers?.get('anthropic-ratelimit-tokens-reset')).toBe('2026-11-22T00:00:00Z');
    expect(e.headers?.get('x-ratelimit-limit-tokens')).toBeNull();
    expect(lastCall()).toMatchObject({ status: 429, decision: 'blocked', blockedBy: 'project:tiny:daily' });
  });

  it("gives the gateway's request id as request-id, which the SDK reads, on answers and errors alike", async () => {
    const { response, request_id } = await client().messages.create({ model: 'claude-sonnet-4', max_tokens: 10, messages: ask }).withResponse();
    const id = response.headers.get('x-tollgate-request-id');
    expect(id).toMatch(/^req_[0-9a-f]{12}_/);
    expect(request_id).toBe(id);
    expect((await client().messages.create({ model: 'claude-sonnet-4', max_tokens: 10, messages: ask }))._request_id).toMatch(/^req_[0-9a-f]{12}_/);
    expect(response.headers.get('x-request-id')).toBeNull();
    // The provider's own request-id is renamed, not dropped.
    expect(response.headers.get('x-upstream-request-id')).toMatch(/^req_/);
    expect(response.headers.get('x-upstream-request-id')).not.toBe(id);

    const notFound = await client().messages.create({ model: 'claude-9', max_tokens: 10, messages: ask }).catch((e: unknown) => e);
    expect((notFound as InstanceType<typeof Anthropic.APIError>).requestID).toMatch(/^req_/);
    // Errors raised before the handler runs (the body is parsed first) carry it as well.
    const badJson = await fetch(gw().url + '/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'tg-alice' }, body: '{"model":' });
    expect(badJson.status).toBe(400);
    expect(badJson.headers.get('request-id')).toMatch(/^req_/);
    expect(badJson.headers.get('request-id')).toBe(badJson.headers.get('x-tollgate-request-id'));
  });

  it('authentication, unknown model, bad body and unknown path errors have Anthropic types', async () => {
    await expect(client('tg-nobody').messages.create({ model: 'claude-sonnet-4', max_tokens: 10, messages: ask })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    const notFound = await client().messages.create({ model: 'claude-9', max_tokens: 10, messages: ask }).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(Anthropic.NotFoundError);
    expect((notFound as { error: unknown }).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    // It names only the models /v1/messages serves; gpt-4o would be refused there.
    const listed = (notFound as Error).message;
    expect(listed).toContain('claude/claude-sonnet-4');
    expect(listed).not.toContain('gpt-4o');

    const post = (body: unknown, path = '/v1/messages') =>
      fetch(gw().url + path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'tg-alice' }, body: JSON.stringify(body) });
    const noMax = await post({ model: 'claude-sonnet-4', messages: ask });
    expect(noMax.status).toBe(400);
    // As Anthropic's own error bodies, it names the request (the request-id header's value).
    expect(await noMax.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') }, request_id: noMax.headers.get('request-id') });
    const missingKey = await fetch(gw().url + '/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect((await missingKey.json()).error.type).toBe('authentication_error');
    const badJson = await fetch(gw().url + '/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'tg-alice' }, body: '{"model":' });
    expect(await badJson.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const unknown = await post({}, '/v1/messages/batches');
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.type).toBe('not_found_error');
    const wrongApi = await post({ model: 'gpt-4o', max_tokens: 5, messages: ask });
    expect(wrongApi.status).toBe(400);
    expect((await wrongApi.json()).error.message).toMatch(/has no \/v1\/messages endpoint/);
    expect(upstream().requests()).toHaveLength(0);
  });

  it('answers the Anthropic SDK on endpoints the gateway does not serve in Anthropic format, with its request-id', async () => {
    const err = await client().beta.files.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    const requestId = (err as InstanceType<typeof Anthropic.APIError>).requestID;
    expect(requestId).toMatch(/^req_/);
    expect((err as { error: unknown }).error).toEqual({ type: 'error', error: { type: 'not_found_error', message: 'Unknown endpoint: GET /v1/files.' }, request_id: requestId });
    // OpenAI's endpoints stay OpenAI's whatever the headers say.
    const openai = await fetch(`${gw().url}/v1/chat/completions/nothing`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: '{}' });
    expect((await openai.json()).error.code).toBe('not_found');
  });

  it('passes upstream errors through in Anthropic format and refunds the reservation', async () => {
    const err = await client()
      .messages.create({ model: 'claude-sonnet-4', max_tokens: 10, messages: ask, ...({ mock_error_status: 529 } as object) })
      .catch((e: unknown) => e);
    expect((err as { status: number }).status).toBe(529);
    expect((err as { error: unknown }).error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(lastCall()).toMatchObject({ decision: 'failed', usage: { input: 0, output: 0 } });
    expect(await gw().store.openReservations()).toBe(0);
  });

  it("an upstream that refuses the gateway's provider key is a 502 the SDK does not retry", async () => {
    const err = await client('tg-alice', { maxRetries: 2 })
      .messages.create({ model: 'claude-sonnet-4', max_tokens: 10, messages: ask, ...({ mock_error_status: 401 } as object) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect((err as { status: number }).status).toBe(502);
    expect((err as InstanceType<typeof Anthropic.APIError>).headers?.get('x-should-retry')).toBe('false');
    expect(upstream().requests()).toHaveLength(1);
  });

  it('an error event after the 200 reaches the SDK as an APIError; the call is settled for what was produced', async () => {
    const before = gw().calls.length;
    const stream = client().messages.stream({ model: 'claude-sonnet-4', max_tokens: 100, messages: ask, ...({ mock_error_event_after_chunks: 8 } as object) });
    let text = '';
    stream.on('text', (d) => (text += d));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as { error: unknown }).error).toMatchObject({ error: { type: 'overloaded_error' } });
    // 8 frames: message_start, content_block_start, ping and 5 deltas.
    expect(text.split(' ')).toHaveLength(5);
    const call = gw().calls[before];
    // Counted with Claude's conservative estimator: never below the 5 tokens delivered.
    expect(call).toMatchObject({ status: 502, streamEnd: 'upstream_failed', usage: { output: countTextTokens(text, MODEL), source: 'estimated' } });
    expect(call.usage.output).toBeGreaterThanOrEqual(5);
    expect(call.usage.input).toBe(estimateInput('messages', { model: MODEL, messages: ask, max_tokens: 100 }, MODEL).exact());
    expect(await gw().store.openReservations()).toBe(0);
  });
});
