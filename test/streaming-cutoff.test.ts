// Mid-stream limits: an upstream that ignores max_tokens would stream 2,000 tokens into an output limit
// with room for 500. The gateway ends each stream cleanly at the allowance, in the client's own wire
// format, and the counters hold exactly what was delivered.
import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { SseParser } from '../src/providers/sse/index.js';
import { countTextTokens } from '../src/tokens/index.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const LIMIT = 500;
const CLAUDE = 'claude-sonnet-4-20250514';

const { gw } = useBehindMock({ latencyMs: 0, outputTokens: 20 }, (url) => `
providers:
  up: {type: openai, base_url: "${url}/v1"}
  claude: {type: anthropic, base_url: "${url}"}
projects: {p: {daily_limit: 10000000}}
routes:
  r:
    chat_models:
      - {model_id: gpt-4o, model: up/gpt-4o}
      - {model_id: claude, model: claude/${CLAUDE}}
    token_limiting:
      scope: user
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: ${LIMIT}}
keys: [{id: a, key: tg-a, project: p}, {id: b, key: tg-b, project: p}, {id: c, key: tg-c, project: p}, {id: d, key: tg-d, project: p}, {id: e, key: tg-e, project: p}, {id: f, key: tg-f, project: p}, {id: g, key: tg-g, project: p}]
`);

// The upstream ignores max_tokens and would produce 2,000 tokens.
const RUNAWAY = { mock_output_tokens: 2000, mock_ignore_max_tokens: true };
const ask = [{ role: 'user' as const, content: 'Write a long story.' }];

/** Output tokens the key's route output limit holds now. */
async function outputUsed(keyId: string): Promise<number> {
  const call = gw().calls.find((c) => c.principal.keyId === keyId)!;
  const limits = gw().gateway.engine.applicable.for(call.principal, call.target);
  const i = limits.findIndex((l) => l.id.endsWith(':output'));
  return (await gw().store.peek([limits[i].item]))[0].used;
}

describe('an output limit reached mid-stream', () => {
  it('OpenAI chat: ≤ 500 tokens, a length finish, the usage chunk, [DONE]; the counter holds what was delivered', async () => {
    const openai = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-a', maxRetries: 0 });
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'gpt-4o', messages: ask, max_tokens: 2000, stream: true, stream_options: { include_usage: true }, ...(RUNAWAY as object) })
      .withResponse();
    expect(response.headers.get('x-tollgate-clamped-max-tokens')).toBe(String(LIMIT));
    let text = '';
    let deltas = 0;
    const finishes: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta?.content) {
        text += choice.delta.content;
        deltas++;
      }
      if (choice?.finish_reason) finishes.push(choice.finish_reason);
      if (chunk.usage) usage = chunk.usage;
    }
    const delivered = countTextTokens(text, 'gpt-4o');
    expect(delivered).toBe(LIMIT);
    expect(deltas).toBe(LIMIT);
    expect(finishes).toEqual(['length']);
    expect(usage).toMatchObject({ completion_tokens: LIMIT });
    const call = gw().calls.find((c) => c.principal.keyId === 'a')!;
    expect(call).toMatchObject({ status: 200, streamEnd: 'cut_at_limit', usage: { output: LIMIT, source: 'estimated' }, reserved: { output: LIMIT } });
    expect(await outputUsed('a')).toBe(delivered);
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('OpenAI chat without include_usage: the ending has no usage chunk', async () => {
    const res = await fetch(`${gw().url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tg-f' },
      body: JSON.stringify({ model: 'gpt-4o', messages: ask, stream: true, ...RUNAWAY }),
    });
    const frames = (await res.text()).split('\n\n').filter(Boolean);
    expect(frames.at(-1)).toBe('data: [DONE]');
    const last = JSON.parse(frames.at(-2)!.slice(6));
    expect(last.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'length' }]);
    expect(frames.some((f) => f.includes('"usage":{'))).toBe(false);
    expect(await outputUsed('f')).toBe(LIMIT);
  });

  it('Anthropic messages: the SDK sees stop_reason max_tokens and the usage delivered', async () => {
    const anthropic = new Anthropic({ baseURL: gw().url, apiKey: 'tg-b', maxRetries: 0 });
    const stream = anthropic.messages.stream({ model: 'claude', max_tokens: 2000, messages: ask, ...(RUNAWAY as object) });
    let text = '';
    stream.on('text', (d) => (text += d));
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe('max_tokens');
    const delivered = countTextTokens(text, CLAUDE); // Claude's conservative estimate
    expect(delivered).toBeLessThanOrEqual(LIMIT);
    expect(delivered).toBeGreaterThan(LIMIT - 10); // cut at the limit, not long before it
    expect(message.usage.output_tokens).toBe(delivered);
    expect(gw().calls.find((c) => c.principal.keyId === 'b')).toMatchObject({ streamEnd: 'cut_at_limit', usage: { output: delivered } });
    expect(await outputUsed('b')).toBe(delivered);
  });

  it('OpenAI chat on a Claude model: the translated stream ends with finish_reason length', async () => {
    const openai = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-c', maxRetries: 0 });
    const stream = await openai.chat.completions.create({ model: 'claude', messages: ask, stream: true, ...(RUNAWAY as object) });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('length');
    const delivered = countTextTokens(text, CLAUDE);
    expect(delivered).toBeLessThanOrEqual(LIMIT);
    expect(delivered).toBeGreaterThan(LIMIT - 10);
    expect(await outputUsed('c')).toBe(delivered);
  });

  it('Responses API: the stream ends with response.incomplete carrying the output delivered', async () => {
    const openai = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-d', maxRetries: 0 });
    const stream = openai.responses.stream({ model: 'gpt-4o', input: 'Write a long story.', ...(RUNAWAY as object) });
    let text = '';
    stream.on('response.output_text.delta', (e) => (text += e.delta));
    const final = await stream.finalResponse();
    expect(final.status).toBe('incomplete');
    expect(final.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(final.output_text).toBe(text);
    expect(countTextTokens(text, 'gpt-4o')).toBe(LIMIT);
    expect(final.usage?.output_tokens).toBe(LIMIT);
    expect(await outputUsed('d')).toBe(LIMIT);
  });

  it('Responses API: the ending closes the open text part and item as the API does, numbered on from the last event delivered', async () => {
    const res = await fetch(`${gw().url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tg-g' },
      body: JSON.stringify({ model: 'gpt-4o', input: 'Write a long story.', stream: true, ...RUNAWAY }),
    });
    const events = new SseParser().push(Buffer.from(await res.text())).map((ev) => ({ name: ev.event, ...JSON.parse(ev.data) }) as Record<string, any>);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.every((e) => e.name === e.type)).toBe(true);
    const ending = events.slice(-4);
    expect(ending.map((e) => e.type)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);
    const delivered = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
    expect(countTextTokens(delivered, 'gpt-4o')).toBe(LIMIT);
    expect(ending[0]).toMatchObject({ output_index: 0, content_index: 0, text: delivered });
    expect(ending[1].part).toMatchObject({ type: 'output_text', text: delivered });
    expect(ending[2].item).toMatchObject({ type: 'message', status: 'incomplete', content: [{ type: 'output_text', text: delivered }] });
    expect(ending[3].response.output).toEqual([ending[2].item]);
  });

  it('streams sharing one limit: together they never deliver more than it allows', async () => {
    const openai = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-e', maxRetries: 0 });
    const one = async (): Promise<number | 'refused'> => {
      try {
        const stream = await openai.chat.completions.create({ model: 'gpt-4o', messages: ask, max_tokens: 300, stream: true, ...(RUNAWAY as object) });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
        return countTextTokens(text, 'gpt-4o');
      } catch (err) {
        expect(err).toBeInstanceOf(OpenAI.RateLimitError);
        return 'refused';
      }
    };
    const results = await Promise.all([one(), one(), one()]);
    const delivered = results.filter((r): r is number => r !== 'refused');
    expect(delivered.reduce((a, b) => a + b, 0)).toBe(LIMIT);
    expect(results.filter((r) => r === 'refused')).toHaveLength(1);
    expect(await outputUsed('e')).toBe(LIMIT);
    expect(await gw().store.openReservations()).toBe(0);
  });
});
