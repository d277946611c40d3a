// OpenAI features that make the provider bill tokens the request body does not show (unseen-billing.ts):
// built-in tools and prompt templates on /v1/responses, search models on chat completions (hidden input),
// Predicted Outputs (rejected prediction tokens billed as output beyond the cap); background responses have
// their own file (background-responses.test.ts). The official SDK against a gateway in front of a small
// upstream that answers as the real API does, usage included; each case checks a hard project limit holds
// against concurrent (or looped) calls.
import type { IncomingMessage, ServerResponse } from 'node:http';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { okOr429, responseObject } from './helpers/wire-upstream.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

/** What the upstream bills as input for a call that searched, read files, ran tools or used a prompt template. */
const HIDDEN_INPUT = 30_000;
const SEARCH_LIMIT = 20_000;

type Body = Record<string, unknown> & { model: string; tools?: Array<{ type?: string }> };

/** Whether the upstream brings hidden input into this call, as the real API would. */
function hiddenInput(path: string, body: Body): boolean {
  if (path.endsWith('/chat/completions')) {
    const spokenBefore = (body.messages as Array<{ audio?: { id?: string } }>).some((m) => m.audio?.id !== undefined);
    return body.web_search_options !== undefined || body.model.includes('-search-') || spokenBefore;
  }
  const hosted = ['web_search', 'web_search_preview', 'file_search', 'mcp', 'code_interpreter', 'image_generation'];
  return body.prompt !== undefined || (body.tools ?? []).some((t) => hosted.includes(t.type ?? ''));
}

/** A chat completion: a prediction's tokens (one per word) are all rejected, billed on top of the full cap. */
function chatAnswer(body: Body): object {
  const cap = (body.max_completion_tokens ?? body.max_tokens ?? 100) as number;
  const prediction = (body.prediction as { content?: string } | undefined)?.content ?? '';
  const rejected = prediction.split(' ').filter(Boolean).length;
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1760000000,
    model: body.model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Done.', refusal: null, annotations: [] }, logprobs: null, finish_reason: 'length' }],
    usage: {
      prompt_tokens: hiddenInput('/chat/completions', body) ? HIDDEN_INPUT : 20,
      completion_tokens: cap + rejected,
      total_tokens: 0,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: rejected },
    },
    service_tier: 'default',
  };
}

function answer(req: IncomingMessage, res: ServerResponse, body: Body): void {
  if (req.url?.endsWith('/chat/completions')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatAnswer(body)));
  const json = responseObject('resp_1', body, 'completed', { input_tokens: hiddenInput('/responses', body) ? HIDDEN_INPUT : 20, input_tokens_details: { cached_tokens: 0 }, output_tokens: 50, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 });
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(json));
}

/** The hidden-input cases: each runs in its own project with a limit smaller than one such call's input. */
const HIDDEN_CASES: Array<{ name: string; call: (c: OpenAI) => Promise<unknown> }> = [
  ...['web_search', 'web_search_preview', 'file_search', 'mcp', 'code_interpreter', 'image_generation'].map((type) => ({
    name: `responses tool ${type}`,
    call: (c: OpenAI) => c.responses.create({ model: 'gpt-4.1', input: 'Find it.', max_output_tokens: 500, tools: [{ type, server_label: 's', server_url: 'https://mcp.example', vector_store_ids: ['vs_1'], container: { type: 'auto' } } as never] }),
  })),
  { name: 'responses prompt template', call: (c) => c.responses.create({ model: 'gpt-4.1', prompt: { id: 'pmpt_1', version: '2', variables: { city: 'Paris' } }, max_output_tokens: 500 }) },
  {
    name: 'chat web_search_options',
    call: (c) => c.chat.completions.create({ model: 'search', messages: [{ role: 'user', content: 'News?' }], max_completion_tokens: 500, web_search_options: { search_context_size: 'high' } }),
  },
  {
    name: 'chat assistant audio referenced by id',
    call: (c) =>
      c.chat.completions.create({
        model: 'audio',
        modalities: ['text', 'audio'],
        audio: { voice: 'alloy', format: 'wav' },
        messages: [
          { role: 'user', content: 'Tell me a story.' },
          { role: 'assistant', audio: { id: 'audio_abc123' } },
          { role: 'user', content: 'Go on.' },
        ],
        max_completion_tokens: 500,
      }),
  },
  { name: 'chat search model without options', call: (c) => c.chat.completions.create({ model: 'search', messages: [{ role: 'user', content: 'News?' }], max_completion_tokens: 500 }) },
];

const PREDICTION_LIMIT = 10_000;

const config = (url: string): string => `
server: {timezone: UTC}
providers: {openai: {type: openai, base_url: "${url}"}}
projects:
${HIDDEN_CASES.map((_, i) => `  h${i}: {daily_limit: ${SEARCH_LIMIT}}`).join('\n')}
  plain: {daily_limit: 10000000}
  tiny: {daily_limit: 800}
  pred: {daily_limit: ${PREDICTION_LIMIT}}
routes:
  r:
    chat_models:
      - {model_id: gpt-4.1, model: openai/gpt-4.1}
      - {model_id: search, model: openai/gpt-4o-search-preview}
      - {model_id: audio, model: openai/gpt-4o-audio-preview}
keys:
${HIDDEN_CASES.map((_, i) => `  - {id: h${i}, key: tg-h${i}, project: h${i}}`).join('\n')}
  - {id: plain, key: tg-plain, project: plain}
  - {id: tiny, key: tg-tiny, project: tiny}
  - {id: pred, key: tg-pred, project: pred}
`;

const client = (key: string): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
const usedBy = (keyId: string): number => gw().calls.filter((c) => c.principal.keyId === keyId).reduce((n, c) => n + c.usage.input + c.usage.output, 0);

// Answered after 100 ms: concurrent calls are all in flight together.
const { gw } = useBehindWireUpstream((req, res, raw) => setTimeout(() => answer(req, res, JSON.parse(raw) as Body), 100), config);

describe('hidden input: built-in tools, prompt templates, search models', () => {
  HIDDEN_CASES.forEach(({ name, call }, i) => {
    it(`${name}: concurrent calls pass a hard limit by at most one call`, async () => {
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => okOr429(call(client(`tg-h${i}`)))));
      expect(outcomes.filter((o) => o !== 'ok' && o !== '429')).toEqual([]);
      // The allowance takes the whole window: one call runs, the others wait for the next window.
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
      expect(usedBy(`h${i}`)).toBeLessThanOrEqual(HIDDEN_INPUT + 1000);
      expect(await gw().store.openReservations()).toBe(0);
    });
  });

  it('reserves nothing extra for calls without such features (function tools included)', async () => {
    const res = await client('tg-plain')
      .responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 50, tools: [{ type: 'function', name: 'f', parameters: {}, strict: false }] })
      .withResponse();
    expect(gw().calls.find((c) => c.requestId === res.request_id)!.reserved.input).toBeLessThan(200);
    const searched = await client('tg-plain').responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 50, tools: [{ type: 'web_search' }] }).withResponse();
    // enforcement.stored_context_tokens (128,000) on top of the body's estimate.
    expect(gw().calls.find((c) => c.requestId === searched.request_id)!.reserved.input).toBeGreaterThanOrEqual(128_000);
    const spoken = await client('tg-plain')
      .chat.completions.create({ model: 'audio', modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' }, messages: [{ role: 'user', content: 'Hi.' }], max_completion_tokens: 50 })
      .withResponse();
    expect(gw().calls.find((c) => c.requestId === spoken.request_id)!.reserved.input).toBeLessThan(200);
  });
});

describe('hidden input beside stored context', () => {
  it('both allowances together still fit an empty window: never a permanent 400', async () => {
    // Unseen stored context takes the window's room already; the tool's allowance shrinks to nothing.
    const res = await client('tg-tiny')
      .responses.create({ model: 'gpt-4.1', previous_response_id: 'resp_after_a_restart', input: 'Go on.', max_output_tokens: 100, tools: [{ type: 'web_search' }] })
      .withResponse();
    const reserved = gw().calls.find((c) => c.requestId === res.request_id)!.reserved;
    expect(reserved.input + reserved.output).toBeLessThanOrEqual(800);
    expect(reserved.input).toBeGreaterThan(600);
  });
});

describe('Predicted Outputs: rejected prediction tokens are billed beyond the cap', () => {
  const prediction = Array.from({ length: 2000 }, (_, i) => `w${i % 10}`).join(' ');

  it('reserves the prediction as output, sends the client cap unchanged, and concurrent calls stay within the limit', async () => {
    const ask = () =>
      client('tg-pred').chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'Rewrite the file.' }],
        max_completion_tokens: 500,
        prediction: { type: 'content', content: prediction },
      });
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => okOr429(ask())));
    expect(outcomes.filter((o) => o !== 'ok' && o !== '429')).toEqual([]);
    const admitted = gw().calls.filter((c) => c.principal.keyId === 'pred' && c.status === 200);
    expect(admitted.length).toBeGreaterThan(0);
    // Each call billed 500 + 2,000 rejected tokens of output: the limit holds.
    expect(admitted[0].usage.output).toBe(2500);
    expect(admitted[0].reserved.output).toBeGreaterThanOrEqual(2500);
    expect(usedBy('pred')).toBeLessThanOrEqual(PREDICTION_LIMIT);
  });
});
