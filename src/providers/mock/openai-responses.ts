// POST /v1/responses: the Responses API's `response` object, or its typed event stream (response.created
// ... response.completed), shaped like the recorded fixture in providers/sse/fixtures/openai-responses.sse.
import { encodeSseEvent } from '../sse/index.js';
import { estimateInput } from '../../tokens/index.js';
import { jsonReply, servedTier, sseReply, type MockCall } from './mock-call.js';
import { resolveOutputLength } from './mock-controls.js';
import { promptCacheCounts, type PromptCacheCounts } from './openai-prompt-cache.js';
import { openAiError } from './mock-errors.js';
import { mockId, nowSeconds } from './mock-ids.js';
import { mockTokens } from './mock-text.js';
import { functionCallFrames, functionCallItems, responsesToolAnswer } from './openai-responses-calls.js';
import { capToolAnswer } from './openai-tool-calls.js';
import { tokenLogprob, wantedResponsesLogprobs } from './openai-logprobs.js';
import { capStructured, structuredAnswer, structuredPieces } from './openai-structured-output.js';
import { ObfuscationPad, wantsObfuscation } from './stream-obfuscation.js';
import type { MockReply } from './types.js';

const CAPS = ['max_output_tokens'] as const;
/** The Responses API refuses smaller output caps. */
export const MIN_OUTPUT_TOKENS = 16;

/** The usage object; with `cache_write_tokens` (first, as OpenAI sends it) from GPT-5.6 on. */
function usage(input: number, output: number, cache: PromptCacheCounts): Record<string, unknown> {
  return {
    input_tokens: input,
    input_tokens_details: cache.reported ? { cache_write_tokens: cache.written, cached_tokens: cache.read } : { cached_tokens: cache.read },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + output,
  };
}

// The response object in the real API's key order; `output` and `usage` vary through the stream.
function responseObject(
  base: { id: string; created: number; model: string; body: Record<string, unknown>; tier: string },
  status: string,
  output: unknown[],
  usageValue: unknown,
  incomplete: boolean,
): Record<string, unknown> {
  const b = base.body;
  return {
    id: base.id,
    object: 'response',
    created_at: base.created,
    status,
    background: false,
    error: null,
    incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    max_tool_calls: null,
    model: base.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: b.previous_response_id ?? null,
    prompt_cache_key: null,
    reasoning: { effort: null, summary: null },
    safety_identifier: null,
    service_tier: base.tier,
    store: b.store ?? true,
    temperature: b.temperature ?? 1.0,
    // The format asked for is echoed (a json_schema with its schema), as the API does.
    text: { format: isObject(b.text) && isObject(b.text.format) ? b.text.format : { type: 'text' }, verbosity: isObject(b.text) && typeof b.text.verbosity === 'string' ? b.text.verbosity : 'medium' },
    tool_choice: b.tool_choice ?? 'auto',
    tools: Array.isArray(b.tools) ? b.tools : [],
    top_logprobs: typeof b.top_logprobs === 'number' ? b.top_logprobs : 0,
    top_p: b.top_p ?? 1.0,
    truncation: 'disabled',
    usage: usageValue,
    user: null,
    metadata: b.metadata ?? {},
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Answers a Responses API request (non-streaming or streaming). */
export function mockResponses(call: MockCall): MockReply {
  const { body, controls } = call;
  if (typeof body.model !== 'string' || body.model === '') return openAiError(400, 'Missing required parameter: \'model\'.', { param: 'model', code: 'missing_required_parameter' }, call.latencyMs);
  const cap = body.max_output_tokens;
  if (typeof cap === 'number' && cap < MIN_OUTPUT_TOKENS) {
    return openAiError(400, `Invalid 'max_output_tokens': integer below minimum value. Expected a value >= ${MIN_OUTPUT_TOKENS}, but got ${cap} instead.`, { param: 'max_output_tokens', code: 'integer_below_min_value' }, call.latencyMs);
  }
  const model = body.model;
  // A request that makes the model call its functions is answered with the calls; a structured-output request
  // (`text.format` json_schema or json_object) in JSON; any other in the mock's words. Calls and JSON are as
  // long as they come out (the cap can still cut them, as it cuts text).
  const called = responsesToolAnswer(body, controls);
  const structured = called ? undefined : structuredAnswer(body, model);
  const length = called?.tokens ?? structured?.tokens;
  const len = resolveOutputLength(body, length !== undefined ? { ...controls, outputTokens: length } : controls, call.opts, CAPS);
  const status = len.cut ? 'incomplete' : 'completed';
  const input = estimateInput('responses', body, model).exact();
  const base = { id: mockId('resp_', 48), created: nowSeconds(), model, body, tier: servedTier(body, call.opts) };
  const itemId = mockId('msg_', 48);
  const pieces = structured ? structuredPieces(capStructured(structured, len.tokens).text) : mockTokens(len.tokens);
  const text = pieces.join('');
  // `include: ["message.output_text.logprobs"]`: each token's entry, in the part and in its delta.
  const top = wantedResponsesLogprobs(body);
  const logprobs = top === undefined ? [] : pieces.map((p, i) => tokenLogprob(p, i, top));
  const part = { type: 'output_text', annotations: [], logprobs, text };
  const item = { id: itemId, type: 'message', status: len.cut ? 'incomplete' : 'completed', content: [part], role: 'assistant' };
  const finalUsage = controls.omitUsage ? null : usage(input, len.tokens, promptCacheCounts(model, body, controls, input));
  const calls = called && functionCallItems(capToolAnswer(called, len.tokens, model), called);
  const output = calls ?? [item];
  if (body.stream !== true) return jsonReply(call, 'openai', responseObject(base, status, output, finalUsage, len.cut));

  let seq = 0;
  const frame = (type: string, fields: Record<string, unknown>): string => encodeSseEvent({ event: type, data: JSON.stringify({ type, sequence_number: seq++, ...fields }) });
  const where = { item_id: itemId, output_index: 0, content_index: 0 };
  const opening = [
    frame('response.created', { response: responseObject(base, 'in_progress', [], null, false) }),
    frame('response.in_progress', { response: responseObject(base, 'in_progress', [], null, false) }),
  ];
  // Deltas end with their `obfuscation` padding unless the request turned it off (stream-obfuscation.ts).
  const pad = wantsObfuscation(body) ? new ObfuscationPad() : undefined;
  const errorFrame = encodeSseEvent({ event: 'error', data: JSON.stringify({ type: 'error', sequence_number: controls.errorEventAfterChunks ?? 0, code: 'server_error', message: `The server had an error while processing your request.${call.errorEcho ?? ''}`, param: null }) });
  if (calls) {
    // Built in stream order: `frame` numbers the events as it makes them.
    const items = functionCallFrames(calls, frame, pad);
    const ending = frame(len.cut ? 'response.incomplete' : 'response.completed', { response: responseObject(base, status, calls, finalUsage, len.cut) });
    return sseReply(call, 'openai', [...opening, ...items, ending], errorFrame);
  }
  const frames = [
    ...opening,
    frame('response.output_item.added', { output_index: 0, item: { id: itemId, type: 'message', status: 'in_progress', content: [], role: 'assistant' } }),
    frame('response.content_part.added', { ...where, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } }),
  ];
  pieces.forEach((delta, i) => {
    const own = top === undefined ? [] : [logprobs[i]];
    frames.push(frame('response.output_text.delta', pad ? { ...where, delta, logprobs: own, obfuscation: pad.next(delta) } : { ...where, delta, logprobs: own }));
  });
  frames.push(
    frame('response.output_text.done', { ...where, text, logprobs }),
    frame('response.content_part.done', { ...where, part }),
    frame('response.output_item.done', { output_index: 0, item }),
    frame(len.cut ? 'response.incomplete' : 'response.completed', { response: responseObject(base, status, [item], finalUsage, len.cut) }),
  );
  return sseReply(call, 'openai', frames, errorFrame);
}
