// Output an OpenAI-format upstream can answer with besides `content` and `tool_calls`, counted when it
// reports no usage (OpenAI-compatible servers). Regressions: the deprecated `functions` API's
// `function_call` (still served by OpenAI and by compatible servers) was not counted, so it was charged as
// nothing and a stream of it was never held to the output allowance; nor was the `reasoning_content` of a
// non-streamed answer (vLLM, DeepSeek), though its streamed deltas were.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { countTextTokens } from '../src/tokens/index.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

const ARGUMENTS = JSON.stringify({ location: 'Boston, MA', unit: 'celsius', days: [1, 2, 3, 4, 5, 6, 7], note: 'the whole week ahead, please' });
const CALL = { name: 'get_weather', arguments: ARGUMENTS };
const head = { id: 'chatcmpl-fc', object: 'chat.completion.chunk', created: 1760000000, model: 'gpt-4o-2024-08-06' };
const frame = (value: object): string => `data: ${JSON.stringify(value)}\n\n`;

/** A legacy function call streamed as OpenAI does: the name first, then the arguments in pieces; no usage. */
function functionCallStream(): string {
  let out = frame({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: null, function_call: { name: CALL.name, arguments: '' } }, logprobs: null, finish_reason: null }] });
  for (let i = 0; i < ARGUMENTS.length; i += 6) {
    out += frame({ ...head, choices: [{ index: 0, delta: { function_call: { arguments: ARGUMENTS.slice(i, i + 6) } }, logprobs: null, finish_reason: null }] });
  }
  return out + frame({ ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'function_call' }] }) + 'data: [DONE]\n\n';
}

const REASONING = 'The user asks whether Boston is in Massachusetts. It is the capital of that state, so the answer is yes.';

// An OpenAI-compatible server that reports no usage and does not stop at max_tokens.
const { gw } = useBehindWireUpstream((_req, res, raw) => {
  if (JSON.parse(raw).stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    return void res.end(functionCallStream());
  }
  const message = JSON.parse(raw).functions ? { role: 'assistant', content: null, function_call: CALL, refusal: null } : { role: 'assistant', content: 'Yes.', reasoning_content: REASONING };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ...head, object: 'chat.completion', choices: [{ index: 0, message, logprobs: null, finish_reason: 'function_call' }] }));
}, (url) => `
providers:
  compat: {type: openai, base_url: "${url}", api_key: sk-up}
projects: {p: {daily_limit: 100000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: compat/gpt-4o-2024-08-06}]
keys: [{id: k, key: tg-k, project: p}]
`);

const client = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const request = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Weather in Boston?' }], functions: [{ name: 'get_weather', parameters: { type: 'object', properties: {} } }] };

describe('legacy function_call output without usage from the upstream', () => {
  it('charges a non-streamed function call its tokens', async () => {
    const answer = await client().chat.completions.create({ ...request, max_tokens: 500 });
    expect(answer.choices[0].message.function_call).toEqual(CALL);
    const charged = gw().calls.at(-1)!.usage;
    expect(charged.source).toBe('estimated');
    expect(charged.output).toBe(countTextTokens(JSON.stringify(CALL), 'gpt-4o'));
  });

  it('charges a streamed function call its name and arguments', async () => {
    const stream = await client().chat.completions.create({ ...request, max_tokens: 500, stream: true });
    let args = '';
    for await (const chunk of stream) args += chunk.choices[0]?.delta.function_call?.arguments ?? '';
    expect(args).toBe(ARGUMENTS);
    expect(gw().calls.at(-1)!.usage.output).toBe(countTextTokens(CALL.name + ARGUMENTS, 'gpt-4o'));
  });

  it('ends a streamed function call at the output allowance when the upstream does not stop there', async () => {
    const stream = await client().chat.completions.create({ ...request, max_tokens: 8, stream: true });
    let args = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      args += chunk.choices[0]?.delta.function_call?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('length');
    expect(args.length).toBeLessThan(ARGUMENTS.length);
    const call = gw().calls.at(-1)!;
    expect(call.streamEnd).toBe('cut_at_limit');
    expect(call.usage.output).toBeLessThanOrEqual(8);
    expect(call.usage.output).toBe(countTextTokens(CALL.name + args, 'gpt-4o'));
  });
});

describe('reasoning_content of a non-streamed answer without usage from the upstream', () => {
  it('is charged as output, as its streamed deltas are', async () => {
    await client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Is Boston in Massachusetts?' }], max_tokens: 500 });
    expect(gw().calls.at(-1)!.usage.output).toBe(countTextTokens('Yes.' + REASONING, 'gpt-4o'));
  });
});
