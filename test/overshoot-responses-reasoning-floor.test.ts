// The Responses API takes no `max_output_tokens` below 16, so a grant under 16 goes upstream as 16. For a
// stream that is safe only when the gateway can cut it at the grant: visible text can be cut, a reasoning
// model's thinking cannot (it is never streamed, and billed all the same). With 5 tokens of an output
// limit left, a streamed o3-mini call was admitted with a grant of 5, sent with 16, thought for 16 and was
// settled at the provider's 16: the limit ended 11 tokens over, one such call after another. A reasoning
// model's stream is now held to the floor as a non-streamed call is: with less room than 16, a 429.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

const typed = (value: Record<string, unknown>): string => `event: ${String(value.type)}\ndata: ${JSON.stringify(value)}\n\n`;
const OUTPUT_MAX = 1000;

// Thinks for the whole `max_output_tokens` and ends incomplete before any visible output, as a reasoning
// model does with so small a cap; a visible model writes that many one-token words.
const { gw } = useBehindWireUpstream((_req, res, raw) => {
  const body = JSON.parse(raw) as { model: string; max_output_tokens: number };
  const cap = body.max_output_tokens;
  const thinks = body.model.startsWith('o3');
  const response = { id: 'resp_1', object: 'response', created_at: 1760000000, status: 'in_progress', model: body.model, output: [] as unknown[], usage: null as unknown };
  let n = 0;
  let out = typed({ type: 'response.created', sequence_number: n++, response });
  if (!thinks) {
    out += typed({ type: 'response.output_item.added', sequence_number: n++, output_index: 0, item: { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
    out += typed({ type: 'response.content_part.added', sequence_number: n++, item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
    for (let i = 0; i < cap; i++) out += typed({ type: 'response.output_text.delta', sequence_number: n++, item_id: 'msg_1', output_index: 0, content_index: 0, delta: ' word' });
  }
  const usage = { input_tokens: 8, output_tokens: cap, total_tokens: 8 + cap, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: thinks ? cap : 0 } };
  const output = thinks ? [{ id: 'rs_1', type: 'reasoning', summary: [] }] : [{ id: 'msg_1', type: 'message', status: 'incomplete', role: 'assistant', content: [{ type: 'output_text', text: ' word'.repeat(cap), annotations: [] }] }];
  out += typed({ type: 'response.incomplete', sequence_number: n++, response: { ...response, status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output, usage } });
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(out);
}, (url) => `
providers:
  openai: {type: openai, base_url: "${url}", api_key: sk-up}
routes:
  r:
    chat_models: [{model_id: o3-mini, model: openai/o3-mini}, {model_id: gpt-4o, model: openai/gpt-4o}]
    token_limiting:
      scope: user
      output: {algorithm: fixed_window, window_size: 1 day, max_token: ${OUTPUT_MAX}}
projects: {p: {daily_limit: 10000000}}
keys:
  - {id: k1, key: tg-k1, project: p}
  - {id: k2, key: tg-k2, project: p}
`);

const client = (key: string): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });

/** Uses all but `room` tokens of key `key`'s output limit with one streamed call of `model`. */
async function leave(key: string, model: string, room: number): Promise<void> {
  const final = await client(key).responses.stream({ model, input: 'hi', max_output_tokens: OUTPUT_MAX - room }).finalResponse();
  expect(final.usage?.output_tokens).toBe(OUTPUT_MAX - room);
}

async function outputUsed(keyId: string): Promise<number> {
  const call = gw().calls.find((c) => c.principal.keyId === keyId)!;
  const limits = gw().gateway.engine.applicable.for(call.principal, call.target).filter((l) => l.id.endsWith(':output'));
  const [state] = await gw().store.peek(limits.map((l) => l.item));
  return state.used;
}

describe("a reasoning model's Responses stream with less room than the API's floor of 16", () => {
  it('is refused (429), not sent with max_output_tokens 16 to think past the limit', async () => {
    await leave('tg-k1', 'o3-mini', 5);
    const err = await client('tg-k1').responses.stream({ model: 'o3-mini', input: 'hi', max_output_tokens: 100 }).finalResponse().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    // Was 1,011 on a limit of 1,000: admitted with a grant of 5, billed 16 of thinking.
    expect(await outputUsed('k1')).toBeLessThanOrEqual(OUTPUT_MAX);
  });

  it('a visible model with the same room is still admitted and cut at it', async () => {
    await leave('tg-k2', 'gpt-4o', 5);
    const final = await client('tg-k2').responses.stream({ model: 'gpt-4o', input: 'hi', max_output_tokens: 100 }).finalResponse();
    expect(final.status).toBe('incomplete');
    expect(await outputUsed('k2')).toBe(OUTPUT_MAX);
  });
});
