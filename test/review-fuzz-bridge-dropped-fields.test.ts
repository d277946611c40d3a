// QA fuzz review: OpenAI chat requests to a Claude model (the chat -> Messages bridge,
// src/providers/anthropic/chat-to-messages.ts). A field of the wrong type is silently dropped or replaced
// there, and the call is answered 200 as if the client had asked for something else. OpenAI refuses each
// of these with a 400 naming the field; the gateway already does so for 'stop' and 'tools' ("Fields that
// would otherwise be dropped unread: a wrong type is the client's mistake, as OpenAI says"), but not for these.
// Expected: a 400 in OpenAI's format with `param` naming the field, and nothing sent upstream.
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const h = useBehindMock({ latencyMs: 0, outputTokens: 5 }, (u) => `
providers: {claude: {type: anthropic, base_url: "${u}", api_key: sk-up}}
projects: {p: {daily_limit: 1000000}}
routes: {main: {chat_models: [{model_id: claude, model: claude/claude-sonnet-4-20250514}]}}
keys: [{id: k, key: tg-k, project: p}]
`);

interface Sent { status: number; body: { error?: { message: string; type: string; param: string | null; code: string | null } }; upstream: Array<Record<string, unknown>> }

async function chat(extra: Record<string, unknown>): Promise<Sent> {
  h.upstream().clearRequests();
  const res = await fetch(`${h.gw().url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'What is the weather in Paris?' }], ...extra }),
  });
  const body = (await res.json()) as Sent['body'];
  const upstream = h.upstream().requests().filter((r) => r.path === '/v1/messages').map((r) => r.body as Record<string, unknown>);
  return { status: res.status, body, upstream };
}

const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

describe('chat -> Claude bridge: wrong-typed fields are refused, not dropped (QA fuzz)', () => {
  it("an assistant tool call's 'arguments' sent as an object: refused, not replaced by {} (the call's input lost)", async () => {
    const r = await chat({
      tools: [weather],
      messages: [
        { role: 'user', content: 'What is the weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
    });
    // Observed: 200; upstream got {"type":"tool_use","id":"call_1","name":"get_weather","input":{}}: the city is gone.
    // OpenAI: 400 "Invalid type for 'messages[1].tool_calls[0].function.arguments': expected a string, but got an object instead."
    expect(r.upstream).toHaveLength(0);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request' });
    expect(r.body.error?.param).toMatch(/^messages\[1\]\.tool_calls/);
  });

  it("a tool's 'parameters' sent as a string (a JSON-stringified schema): refused, not replaced by an empty schema", async () => {
    const schema = JSON.stringify(weather.function.parameters);
    const r = await chat({ tools: [{ type: 'function', function: { name: 'get_weather', parameters: schema } }] });
    // Observed: 200; upstream got input_schema {"type":"object","properties":{}}: the tool takes no arguments any more.
    // OpenAI: 400 "Invalid type for 'tools[0].function.parameters': expected an object, but got a string instead."
    expect(r.upstream).toHaveLength(0);
    expect(r.status).toBe(400);
    expect(r.body.error?.param).toMatch(/^tools\[0\]/);
  });

  it("'tool_choice' that is no choice ('requried', a typo): refused, not dropped (the model was to be forced to call a tool)", async () => {
    const r = await chat({ tools: [weather], tool_choice: 'requried' });
    // Observed: 200; upstream got no tool_choice at all (auto).
    // OpenAI: 400 "Invalid value: 'requried'. Supported values are: 'none', 'auto', and 'required'." (param tool_choice)
    expect(r.upstream).toHaveLength(0);
    expect(r.status).toBe(400);
    expect(r.body.error?.param).toBe('tool_choice');
  });

  it("'tool_choice' naming a function with a non-string name: refused, not dropped", async () => {
    const r = await chat({ tools: [weather], tool_choice: { type: 'function', function: { name: 5 } } });
    expect(r.upstream).toHaveLength(0);
    expect(r.status).toBe(400);
    expect(r.body.error?.param).toMatch(/^tool_choice/);
  });

  it("'temperature' as a string (\"0.2\"): refused, not dropped (the model then samples at its default of 1)", async () => {
    const r = await chat({ temperature: '0.2' });
    // Observed: 200; upstream got no temperature.
    // OpenAI: 400 "Invalid type for 'temperature': expected a decimal, but got a string instead."
    expect(r.upstream).toHaveLength(0);
    expect(r.status).toBe(400);
    expect(r.body.error?.param).toBe('temperature');
  });

  it('control: the same calls written correctly reach Claude with what was asked', async () => {
    const r = await chat({
      tools: [weather],
      tool_choice: 'required',
      temperature: 0.2,
      messages: [
        { role: 'user', content: 'What is the weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.upstream).toHaveLength(1);
    expect(r.upstream[0]).toMatchObject({
      temperature: 0.2,
      tool_choice: { type: 'any' },
      tools: [{ name: 'get_weather', input_schema: weather.function.parameters }],
      messages: [{ role: 'user' }, { role: 'assistant', content: [{ type: 'tool_use', input: { city: 'Paris' } }] }, { role: 'user' }],
    });
  });
});
