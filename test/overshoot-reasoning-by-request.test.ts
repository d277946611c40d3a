// A reasoning model the gateway does not know by name (an Azure deployment called `reasoner-prod`, a
// router's alias) whose thinking the request asks for (`reasoning_effort` on chat, `reasoning` on the
// Responses API: a model that does not reason refuses both). Its thinking is billed as output and never
// shown, so a client that left before the usage was charged only the few words it saw: the provider billed
// 1,010 output tokens, the gateway 1-4, and a hard limit never heard of the rest. It is now charged its whole
// grant, as a model known to reason is (reasoning-unseen-output.test.ts); `reasoning_effort: "none"` (no
// thinking at all) and requests without it are still charged what they showed.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { leftEarly } from './helpers/left-early.js';
import { writePaced } from './helpers/wire-upstream.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

const data = (value: object): string => `data: ${JSON.stringify(value)}\n\n`;
const typed = (value: { type: string }): string => `event: ${value.type}\n${data(value)}`;
const WORDS = ['Yes, ', 'Boston ', 'is ', 'in ', 'Massachusetts.'];
const USAGE = { prompt_tokens: 12, completion_tokens: 1010, total_tokens: 1022, completion_tokens_details: { reasoning_tokens: 1000 } };

/** The frames of a chat stream of the answer, then its usage. */
function chatFrames(model: string): string[] {
  const head = { id: 'chatcmpl-r', object: 'chat.completion.chunk', created: 1760000000, model };
  const frames = WORDS.map((w, i) => data({ ...head, choices: [{ index: 0, delta: { content: w }, logprobs: null, finish_reason: i === WORDS.length - 1 ? 'stop' : null }] }));
  return [...frames, data({ ...head, choices: [], usage: USAGE }), 'data: [DONE]\n\n'];
}

/** The events of a Responses stream of the answer, ending with `response.completed` and its usage. */
function responsesFrames(model: string): string[] {
  const response = { id: 'resp_1', object: 'response', created_at: 1760000000, status: 'in_progress', model, output: [], usage: null };
  let n = 0;
  const frames = [typed({ type: 'response.created', sequence_number: n++, response } as { type: string })];
  frames.push(typed({ type: 'response.output_item.added', sequence_number: n++, output_index: 0, item: { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] } } as { type: string }));
  frames.push(typed({ type: 'response.content_part.added', sequence_number: n++, item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } } as { type: string }));
  for (const w of WORDS) frames.push(typed({ type: 'response.output_text.delta', sequence_number: n++, item_id: 'msg_1', output_index: 0, content_index: 0, delta: w } as { type: string }));
  const text = WORDS.join('');
  const item = { id: 'msg_1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] };
  const usage = { input_tokens: 12, output_tokens: 1010, total_tokens: 1022, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 1000 } };
  frames.push(typed({ type: 'response.completed', sequence_number: n++, response: { ...response, status: 'completed', output: [item], usage } } as { type: string }));
  return frames;
}

// Thinks 300 ms before the first word, then a word every 30 ms.
const { gw } = useBehindWireUpstream((req, res, raw) => {
  const body = JSON.parse(raw) as { model: string };
  const frames = req.url?.endsWith('/responses') ? responsesFrames(body.model) : chatFrames(body.model);
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.flushHeaders();
  writePaced(res, frames, 30, 300);
}, (url) => `
providers:
  azure: {type: openai, base_url: "${url}", api_key: sk-up}
projects: {p: {daily_limit: 1000000}}
routes:
  r:
    chat_models: [{model_id: reasoner, model: azure/reasoner-prod}]
keys: [{id: k, key: tg-k, project: p}]
`);

const client = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });

const messages = [{ role: 'user' as const, content: 'Is Boston in Massachusetts?' }];
const firstChat = (ev: unknown): boolean => (ev as OpenAI.ChatCompletionChunk).choices[0]?.delta.content === 'Boston ';
const firstDelta = (ev: unknown): boolean => (ev as { type: string; delta?: string }).type === 'response.output_text.delta';

describe('a model that reasons because the request asks it to, left before the usage', () => {
  it('chat with reasoning_effort is charged its whole grant', async () => {
    const call = await leftEarly(gw(), (signal) => client().chat.completions.create({ model: 'reasoner', messages, stream: true, max_completion_tokens: 1500, reasoning_effort: 'high' }, { signal }), firstChat);
    expect(call.status).toBe(499);
    expect(call.usage).toMatchObject({ output: 1500, source: 'estimated' });
  });

  it('a Responses call with reasoning is charged its whole grant', async () => {
    const call = await leftEarly(gw(), (signal) => client().responses.create({ model: 'reasoner', input: 'Is Boston in Massachusetts?', stream: true, max_output_tokens: 1500, reasoning: { effort: 'medium' } }, { signal }), firstDelta);
    expect(call.status).toBe(499);
    expect(call.usage).toMatchObject({ output: 1500, source: 'estimated' });
  });

  it("is settled at the provider's usage, thinking included, when it comes", async () => {
    const stream = await client().chat.completions.create({ model: 'reasoner', messages, stream: true, max_completion_tokens: 1500, reasoning_effort: 'high' });
    for await (const _ of stream) void _;
    expect(gw().calls.at(-1)!.usage).toMatchObject({ input: 12, output: 1010, source: 'provider' });
  });

  it('without reasoning asked for, or with reasoning_effort none, it is charged what it showed', async () => {
    for (const extra of [{}, { reasoning_effort: 'none' as const }]) {
      const call = await leftEarly(gw(), (signal) => client().chat.completions.create({ model: 'reasoner', messages, stream: true, max_completion_tokens: 1500, ...extra }, { signal }), firstChat);
      expect(call.status).toBe(499);
      expect(call.usage.output).toBeGreaterThan(0);
      expect(call.usage.output).toBeLessThan(20);
    }
  });
});
