// QA pass (s40, mockwire): `tollgate mock-upstream` against the real Anthropic wire format. Sources of truth:
// the official `@anthropic-ai/sdk` in node_modules (its types, doc comments and MessageStream accumulator), the
// Anthropic docs, and the API's own error bodies as quoted in public issue threads (cited per test). Each
// `it.fails` is a mismatch that lets a gateway test pass against the mock and fail against Anthropic, or makes
// the SDK behave differently.
import { describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { useMockUpstream } from './helpers/mock-upstream-hooks.js';

const mock = useMockUpstream();

const ask = [{ role: 'user' as const, content: 'hi' }];
const HEADERS = { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' };
const post = (path: string, body: unknown): Promise<Response> => fetch(mock.url + path, { method: 'POST', headers: HEADERS, body: JSON.stringify(body) });
const client = (): Anthropic => new Anthropic({ baseURL: mock.url, apiKey: 'sk-ant-test', maxRetries: 0 });
type ErrorBody = { type: string; error: { type: string; message: string }; request_id: string };

describe('what the mock gets right (checked against the Anthropic SDK and docs)', () => {
  it('stream: event: then data: per frame (names = data.type), ping after the first block start, thinking + text + tool_use accumulate in MessageStream', async () => {
    const params = {
      model: 'claude-sonnet-4-5',
      max_tokens: 2000,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } } }],
      messages: ask,
      mock_thinking_tokens: 2,
      mock_tool_use: true,
    } as unknown as Anthropic.MessageStreamParams;
    const raw = await (await post('/v1/messages', { ...params, stream: true })).text();
    const frames = raw.split('\n\n').filter((f) => f !== '').map((f) => f.split('\n'));
    expect(frames.every((f) => f.length === 2 && f[0]!.startsWith('event: ') && f[1]!.startsWith('data: '))).toBe(true);
    const events = frames.map(([ev, data]) => ({ name: ev!.slice(7), type: (JSON.parse(data!.slice(6)) as { type: string }).type }));
    expect(events.every((e) => e.name === e.type)).toBe(true);
    expect(events.slice(0, 3).map((e) => e.name)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(events.slice(-2).map((e) => e.name)).toEqual(['message_delta', 'message_stop']);

    const done = await client().messages.stream(params).finalMessage();
    expect(done.content.map((b) => b.type)).toEqual(['thinking', 'text', 'tool_use']);
    const thinking = done.content[0] as Anthropic.ThinkingBlock;
    expect(thinking.thinking.length).toBeGreaterThan(0);
    expect(thinking.signature).toMatch(/^Eu/);
    expect((done.content[2] as Anthropic.ToolUseBlock).input).toEqual({ city: 'mock', days: 1 });
    expect(done.stop_reason).toBe('tool_use');
    expect(done.usage.input_tokens).toBeGreaterThan(0);
    expect(done.usage.output_tokens).toBeGreaterThan(2 + 3);
  });

  it('errors: Anthropic\'s envelope with request_id equal to the request-id header; count_tokens answers {input_tokens}', async () => {
    const res = await post('/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 10 });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as ErrorBody;
    expect(body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'messages: Field required' }, request_id: res.headers.get('request-id') });
    const count = await client().messages.countTokens({ model: 'claude-sonnet-4-5', messages: ask });
    expect(Object.keys(count)).toEqual(['input_tokens']);
    expect(count.input_tokens).toBeGreaterThan(0);
  });
});

describe('mismatches with the real Anthropic API', () => {
  // Anthropic refuses a max_tokens above the model's output limit before generating: 400 invalid_request_error
  // "max_tokens: 1000000 > 64000, which is the maximum allowed number of output tokens for
  // claude-sonnet-4-20250514" (OpenHands/OpenHands#11090; anthropics/claude-code#24451 for opus-4-5); the SDK's
  // ModelInfo carries each model's `max_tokens` (resources/models.d.ts). The mock takes any value (seen: 200,
  // end_turn, for 1,000,000). A gateway that sends a larger cap than the model takes (default_max_tokens, the
  // OpenAI→Anthropic translation's default, a budget-derived clamp) passes here and fails at Anthropic.
  // Suspect: src/providers/mock/anthropic-messages.ts mockAnthropicMessages (only `< 1` is checked).
  // Fixed: for the models the mock lists (anthropic-models.ts, each with its published output limit); a name it
  // does not list, an alias included, still takes any value.
  it('max_tokens above the model\'s output limit (claude-sonnet-4-20250514: 64,000) is a 400 naming both', async () => {
    const res = await post('/v1/messages', { model: 'claude-sonnet-4-20250514', max_tokens: 1_000_000, messages: ask });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/^max_tokens: 1000000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-20250514/);
    // At the limit it answers.
    expect((await post('/v1/messages', { model: 'claude-sonnet-4-20250514', max_tokens: 64_000, messages: ask })).status).toBe(200);
  });

  // The SDK documents `max_tokens: 0` as valid: "Set to `0` to populate the prompt cache without generating a
  // response" (resources/messages/messages.d.ts MessageCreateParamsBase.max_tokens, linking the prompt-caching
  // guide's "pre-warming the cache"). The mock refuses it (seen: 400 "max_tokens: Input should be greater than or
  // equal to 1"), so a client pre-warming its cache through the gateway cannot be tested, and a gateway that
  // rejected or rewrote 0 would look right. Fixed: anthropic-messages.ts mockAnthropicMessages takes 0 (a
  // negative value is the 400, "greater than or equal to 0") and answers it with no content, stop_reason
  // max_tokens and output_tokens 0.
  it('max_tokens: 0 (pre-warming the prompt cache) is answered, with no output tokens', async () => {
    const res = await post('/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 0, messages: ask });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage: { output_tokens: number } }).usage.output_tokens).toBe(0);
  });

  // Extended thinking is incompatible with forced tool use: "Tool use with thinking only supports tool_choice:
  // {"type": "auto"} (the default) or {"type": "none"}. Using {"type": "any"} or {"type": "tool", ...} will result
  // in an error" (Anthropic extended-thinking docs, quoted with the API's 400 "Thinking may not be enabled when
  // tool_choice forces tool use" in run-llama/llama_index#19641). The mock answers both (seen: a thinking block with
  // its signature, then a tool_use, stop_reason tool_use). Fixed: anthropic-messages.ts invalidThinking now
  // refuses thinking (enabled or adaptive, on the request or a fallback attempt) with tool_choice any or tool.
  it('thinking enabled with tool_choice {type: "any"} is a 400', async () => {
    const res = await post('/v1/messages', {
      model: 'claude-sonnet-4-5', max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 },
      tools: [{ name: 'w', input_schema: { type: 'object', properties: {} } }], tool_choice: { type: 'any' }, messages: ask,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error).toEqual({ type: 'invalid_request_error', message: 'Thinking may not be enabled when tool_choice forces tool use.' });
  });

  // `stop_details` is a required, nullable field of both the Message and message_delta's `delta`: "This is `null`
  // when the `stop_reason` has no additional detail to report" (resources/messages/messages.d.ts
  // RawMessageDeltaEvent.Delta, Message.stop_details), and MessageStream copies it unconditionally
  // (`snapshot.stop_details = event.delta.stop_details`, lib/MessageStream.js _accumulateMessage). The mock sends it
  // only with a refusal: the SDK's finalMessage().stop_details is `undefined` (seen), and the non-stream message
  // has no such key, where Anthropic's has null. Fixed: anthropic-messages.ts mockAnthropicMessages now sends
  // `stop_details` (null, or the refusal's details) in every message_delta `delta` and every message, after
  // stop_sequence.
  it('stop_details is null (present) on an ordinary answer, streamed through MessageStream and not', async () => {
    const streamed = await client().messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: ask }).finalMessage();
    expect(streamed.stop_details).toBeNull();
    const plain = await client().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: ask });
    expect(plain.stop_details).toBeNull();
  });

  // Anthropic puts its rate-limit state on every response, not only a 429: anthropic-ratelimit-requests-*,
  // -tokens-*, -input-tokens-*, -output-tokens-* (Anthropic rate-limit docs, "Response headers"; a recorded 200 of
  // api.anthropic.com in tidyllm's fixtures, tests/testthat/claude/api.anthropic.com/v1/messages-e050b5-POST.R). The
  // mock sends them only on its 429 (seen on a 200: content-type and request-id only). The gateway must not pass
  // the provider key's limits to clients on a 200 (provider.ts passableHeaders; it writes its own
  // anthropic-ratelimit-* in anthropic-headers.ts): with the mock that path never runs, so a leak would pass.
  // Suspect: src/providers/mock/mock-call.ts jsonReply / sseReply. Fixed: jsonReply and sseReply add
  // anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset} to every Anthropic 200
  // (a tier-1 key's figures, src/providers/mock/mock-rate-limits.ts).
  it('a 200 from /v1/messages carries the anthropic-ratelimit-* headers', async () => {
    const res = await post('/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 10, messages: ask });
    await res.text();
    expect(res.headers.get('anthropic-ratelimit-requests-limit')).toMatch(/^\d+$/);
    expect(res.headers.get('anthropic-ratelimit-input-tokens-remaining')).toMatch(/^\d+$/);
    expect(res.headers.get('anthropic-ratelimit-output-tokens-reset')).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  // GET /v1/models is Anthropic's too: {data: [ModelInfo...], has_more, first_id, last_id}, each ModelInfo with
  // `type: "model"`, `id`, `display_name`, `created_at` and the rest resources/models.d.ts declares (the SDK's
  // Page reads has_more / last_id to fetch the next page). The mock answered every GET /v1/models in OpenAI's
  // shape, even with `anthropic-version` (seen: {"object":"list","data":[{"id":"gpt-4o","object":"model",...}]}),
  // so the SDK's models.list() yielded entries without display_name or created_at, and no Claude model. Fixed:
  // with `anthropic-version` it answers Anthropic's (src/providers/mock/anthropic-models.ts), paged as the
  // gateway pages its own list (src/util/anthropic-page.ts).
  it('GET /v1/models from the Anthropic SDK lists Anthropic ModelInfo entries, paged; retrieve and its 404', async () => {
    const page = await client().models.list();
    expect(page.data.length).toBeGreaterThan(0);
    const first = page.data[0]!;
    expect(first.type).toBe('model');
    expect(typeof first.display_name).toBe('string');
    expect(first.id).toMatch(/^claude-/);
    expect(Object.keys(first).sort()).toEqual(['capabilities', 'created_at', 'deprecated_at', 'display_name', 'id', 'lifecycle', 'line', 'max_input_tokens', 'max_tokens', 'retires_at', 'type']);
    // Newest first, as the API lists them.
    const released = page.data.map((m) => Date.parse(m.created_at));
    expect(released).toEqual([...released].sort((x, y) => y - x));
    // Two at a time: the SDK follows has_more and last_id through every page, each model once.
    const paged: string[] = [];
    for await (const m of client().models.list({ limit: 2 })) paged.push(m.id);
    expect(paged).toEqual(page.data.map((m) => m.id));
    const second = (await (await fetch(`${mock.url}/v1/models?limit=2&after_id=${paged[1]}`, { headers: HEADERS })).json()) as { data: Array<{ id: string }>; has_more: boolean; first_id: string; last_id: string };
    expect(second).toMatchObject({ has_more: paged.length > 4, first_id: paged[2], last_id: paged[3] });
    expect((await client().models.retrieve('claude-sonnet-4-20250514')).max_tokens).toBe(64_000);
    const missing = await fetch(`${mock.url}/v1/models/claude-nope`, { headers: HEADERS });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error).toEqual({ type: 'not_found_error', message: 'model: claude-nope' });
    const badLimit = await fetch(`${mock.url}/v1/models?limit=0`, { headers: HEADERS });
    expect(badLimit.status).toBe(400);
    // Without `anthropic-version` the same path is OpenAI's list still.
    expect(((await (await fetch(`${mock.url}/v1/models`)).json()) as { object: string }).object).toBe('list');
  });
});
