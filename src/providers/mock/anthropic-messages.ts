// POST /v1/messages and /v1/messages/count_tokens in Anthropic's wire format.
import { encodeSseEvent } from '../sse/index.js';
import { countTextTokens, estimateInput } from '../../tokens/index.js';
import { jsonReply, sseReply, type MockCall } from './mock-call.js';
import { resolveOutputLength, type MockControls } from './mock-controls.js';
import { outputLimitOf } from './anthropic-models.js';
import { anthropicError } from './mock-errors.js';
import { fallbackBlocks, invalidFallbacks, iterationUsage, REFUSAL_DETAILS, runFallbacks } from './anthropic-fallback.js';
import { refusedTogether } from './anthropic-sampling.js';
import { mockId } from './mock-ids.js';
import { stopAtSequence } from './stop-sequences.js';
import { mockTokens } from './mock-text.js';
import type { MockReply } from './types.js';

function fieldRequired(call: MockCall, fields: readonly string[]): MockReply | undefined {
  for (const field of fields) {
    const v = call.body[field];
    if (v === undefined || v === null) return anthropicError(400, `${field}: Field required`, call.latencyMs);
  }
  if (typeof call.body.model !== 'string') return anthropicError(400, 'model: Input should be a valid string', call.latencyMs);
  return undefined;
}

/** Anthropic's 400 for a `metadata` key other than `user_id` (its only field), or undefined when there is none. */
function invalidMetadata(metadata: unknown): string | undefined {
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const extra = Object.keys(metadata).find((key) => key !== 'user_id');
  return extra === undefined ? undefined : `metadata.${extra}: Extra inputs are not permitted`;
}

/** How a call's input splits into fresh input, cache reads and cache writes (the mock_cache_* controls). */
interface InputSplit {
  /** `input_tokens`: the input after the last cache breakpoint, neither read from nor written to the cache. */
  fresh: number;
  read: number;
  write5m: number;
  write1h: number;
  /** A cache control was set: the usage reports the TTL split and the delta the cumulative input, as the API does today. */
  cached: boolean;
}

/**
 * The prompt (counted as the gateway estimates it) split as the controls say: the cache reads and writes
 * are carved out of it, the rest is `input_tokens` (never below 0: larger cache figures are reported as given).
 */
function splitInput(total: number, controls: MockControls): InputSplit {
  const read = controls.cacheReadTokens ?? 0;
  const write5m = controls.cacheWriteTokens ?? 0;
  const write1h = controls.cacheWrite1hTokens ?? 0;
  const cached = controls.cacheReadTokens !== undefined || controls.cacheWriteTokens !== undefined || controls.cacheWrite1hTokens !== undefined;
  return { fresh: Math.max(0, total - read - write5m - write1h), read, write5m, write1h, cached };
}

/** What a request asked of where and how fast it runs, reported back in its usage when it asked. */
interface Placement {
  /** `speed`: fast mode, or standard. */
  speed?: string;
  /** `inference_geo`: `us`, `global`, ... */
  geo?: string;
}

function placementOf(body: Record<string, unknown>): Placement {
  return {
    speed: body.speed === 'fast' || body.speed === 'standard' ? body.speed : undefined,
    geo: typeof body.inference_geo === 'string' ? body.inference_geo : undefined,
  };
}

function usage(input: InputSplit, outputTokens: number, placement: Placement): Record<string, unknown> {
  const u: Record<string, unknown> = {
    input_tokens: input.fresh,
    cache_creation_input_tokens: input.write5m + input.write1h,
    cache_read_input_tokens: input.read,
  };
  if (input.cached) u.cache_creation = { ephemeral_5m_input_tokens: input.write5m, ephemeral_1h_input_tokens: input.write1h };
  u.output_tokens = outputTokens;
  u.service_tier = 'standard';
  if (placement.geo !== undefined) u.inference_geo = placement.geo;
  if (placement.speed !== undefined) u.speed = placement.speed;
  return u;
}

/**
 * Anthropic's checks of manual extended thinking: a budget of at least 1024, below max_tokens. (The
 * interleaved-thinking beta lifts the second rule; the mock reads no headers and applies it always.)
 */
function invalidBudget(thinking: Record<string, unknown>, maxTokens: number): string | undefined {
  const budget = thinking.budget_tokens;
  if (typeof budget !== 'number' || budget < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
  if (budget >= maxTokens) {
    return '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size';
  }
  return undefined;
}

/**
 * Anthropic's 400s for a request's thinking (enabled or adaptive): the budget's (manual thinking only), and
 * forced tool use, which thinking does not take: "Tool use with thinking only supports tool_choice: {"type":
 * "auto"} (the default) or {"type": "none"}" (the extended-thinking guide).
 */
function invalidThinking(body: Record<string, unknown>, maxTokens: number): string | undefined {
  const thinking = body.thinking;
  if (typeof thinking !== 'object' || thinking === null) return undefined;
  const { type } = thinking as Record<string, unknown>;
  if (type !== 'enabled' && type !== 'adaptive') return undefined;
  const budgetError = type === 'enabled' ? invalidBudget(thinking as Record<string, unknown>, maxTokens) : undefined;
  if (budgetError) return budgetError;
  return toolForced(body) ? 'Thinking may not be enabled when tool_choice forces tool use.' : undefined;
}

/** Thinking tokens when the request turns extended thinking on and mock_thinking_tokens does not say. */
const DEFAULT_THINKING_TOKENS = 16;

/** The thinking tokens to generate: none without `thinking` enabled (or adaptive), always fewer than max_tokens. */
function thinkingTokens(body: Record<string, unknown>, controls: MockControls, maxTokens: number): number {
  const thinking = body.thinking as Record<string, unknown> | null | undefined;
  if (typeof thinking !== 'object' || thinking === null || (thinking.type !== 'enabled' && thinking.type !== 'adaptive')) return 0;
  const budget = typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : Infinity;
  const wanted = controls.thinkingTokens ?? Math.min(DEFAULT_THINKING_TOKENS, budget);
  return controls.ignoreMaxTokens ? wanted : Math.max(0, Math.min(wanted, maxTokens - 1));
}

/** The tool the model calls, when the request makes it (`tool_choice` any or tool) or mock_tool_use asks; undefined otherwise. */
function calledTool(body: Record<string, unknown>, controls: MockControls): Record<string, unknown> | undefined {
  if (!Array.isArray(body.tools)) return undefined;
  // Client tools only: server tools (web search, ...) have a versioned `type` and run at the provider.
  const tools = (body.tools as unknown[]).filter(
    (t): t is Record<string, unknown> => typeof t === 'object' && t !== null && typeof (t as Record<string, unknown>).name === 'string' && ((t as Record<string, unknown>).type === undefined || (t as Record<string, unknown>).type === 'custom'),
  );
  const choice = body.tool_choice as Record<string, unknown> | null | undefined;
  if (choice?.type === 'none') return undefined;
  if (choice?.type === 'tool') return tools.find((t) => t.name === choice.name);
  return choice?.type === 'any' || controls.toolUse ? tools[0] : undefined;
}

/** The forced tool choices: the model answers with the tool call alone, no text before it. */
function toolForced(body: Record<string, unknown>): boolean {
  const type = (body.tool_choice as Record<string, unknown> | null | undefined)?.type;
  return type === 'any' || type === 'tool';
}

/** Arguments for a tool, one plausible value per property of its input_schema (the first of an enum). */
function toolInput(tool: Record<string, unknown>): Record<string, unknown> {
  const schema = tool.input_schema as Record<string, unknown> | undefined;
  const properties = (typeof schema?.properties === 'object' && schema.properties !== null ? schema.properties : {}) as Record<string, Record<string, unknown>>;
  const input: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(properties)) {
    if (Array.isArray(prop?.enum) && prop.enum.length > 0) input[name] = prop.enum[0];
    else if (prop?.type === 'number' || prop?.type === 'integer') input[name] = 1;
    else if (prop?.type === 'boolean') input[name] = true;
    else if (prop?.type === 'array') input[name] = [];
    else if (prop?.type === 'object') input[name] = {};
    else input[name] = 'mock';
  }
  return input;
}

/** `text` in pieces of at most `size` characters, as the API streams tool input JSON. */
function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const frame = (event: string, data: unknown): string => encodeSseEvent({ event, data: JSON.stringify(data) });

/** One content block of the answer: as the message holds it, and as the stream sends it. */
interface Block {
  full: Record<string, unknown>;
  start: Record<string, unknown>;
  deltas: Array<Record<string, unknown>>;
}

/**
 * Answers a Messages API request: a `message` object, or the message_start ... message_stop event stream.
 * Besides text it produces what the request asks for: a thinking block first when `thinking` is enabled
 * (mock_thinking_tokens long, with its signature), a tool_use block when `tool_choice` forces one (or
 * mock_tool_use with tools), and cache reads and writes in the usage (mock_cache_*).
 */
export function mockAnthropicMessages(call: MockCall): MockReply {
  const invalid = fieldRequired(call, ['model', 'messages', 'max_tokens']);
  if (invalid) return invalid;
  const { body, controls } = call;
  // 0 is taken: it "populate[s] the prompt cache without generating a response" (the SDK's
  // MessageCreateParamsBase.max_tokens, the prompt-caching guide's pre-warming).
  if (typeof body.max_tokens !== 'number' || body.max_tokens < 0) {
    return anthropicError(400, 'max_tokens: Input should be greater than or equal to 0', call.latencyMs);
  }
  // Refused before generating, as Anthropic does (quoted in OpenHands/OpenHands#11090), for the models the
  // mock lists with their output limit (anthropic-models.ts); other names, aliases included, take any value.
  const cap = outputLimitOf(body.model);
  if (cap !== undefined && body.max_tokens > cap) {
    return anthropicError(400, `max_tokens: ${body.max_tokens} > ${cap}, which is the maximum allowed number of output tokens for ${body.model as string}`, call.latencyMs);
  }
  const refusedField = invalidMetadata(body.metadata) ?? refusedTogether(body);
  if (refusedField) return anthropicError(400, refusedField, call.latencyMs);
  const thinkingError = invalidThinking(body, body.max_tokens);
  if (thinkingError) return anthropicError(400, thinkingError, call.latencyMs);
  const fallbacksError = invalidFallbacks(body);
  if (fallbacksError) return anthropicError(400, fallbacksError, call.latencyMs);
  // The models in mock_refuse_models decline; with `fallbacks`, the next entry's attempt answers (anthropic-fallback.ts).
  const run = runFallbacks(body, controls.refuseModels ?? []);
  const attempt = run.served;
  const maxTokens = attempt.max_tokens as number;
  const attemptThinkingError = attempt === body ? undefined : invalidThinking(attempt, maxTokens);
  if (attemptThinkingError) return anthropicError(400, attemptThinkingError, call.latencyMs);
  const model = attempt.model as string;
  const inputOf = (m: string): InputSplit => splitInput(estimateInput('messages', body, m).exact(), controls);
  const input = inputOf(model);
  const id = mockId('msg_01', 22);
  const thought = run.refused ? 0 : thinkingTokens(attempt, controls, maxTokens);
  const tool = run.refused ? undefined : calledTool(attempt, controls);
  const blocks: Block[] = fallbackBlocks(run).map((b) => ({ full: b, start: b, deltas: [] }));
  let outputTokens = 0;
  if (thought > 0) {
    const thinking = mockTokens(thought, 5);
    const signature = mockId('Eu', 86);
    blocks.push({
      full: { type: 'thinking', thinking: thinking.join(''), signature },
      start: { type: 'thinking', thinking: '', signature: '' },
      deltas: [...thinking.map((t) => ({ type: 'thinking_delta', thinking: t })), { type: 'signature_delta', signature }],
    });
    outputTokens += thought;
  }
  // Text, unless a forced tool call is all the answer (never with thinking: invalidThinking refuses the pair).
  // A refusal answers nothing.
  const textless = run.refused || (tool && toolForced(attempt));
  const len = textless ? { tokens: 0, cut: false } : resolveOutputLength({ max_tokens: maxTokens - thought }, controls, call.opts, ['max_tokens']);
  // Cut before the first stop sequence it would contain (stop-sequences.ts).
  const stop = stopAtSequence(mockTokens(len.tokens), attempt.stop_sequences);
  const text = stop.pieces;
  // max_tokens 0 (a cache pre-warm) generates nothing: no block at all (not even a forced tool call), stop_reason max_tokens.
  const prewarm = maxTokens === 0 && !controls.ignoreMaxTokens;
  if (!textless && !prewarm) blocks.push({ full: { type: 'text', text: text.join('') }, start: { type: 'text', text: '' }, deltas: [] });
  outputTokens += stop.tokens;
  // A cut or stopped answer ends there: the tool call it was heading for never comes.
  const toolBlock = tool && !prewarm && !len.cut && !stop.stopped ? tool : undefined;
  if (toolBlock) {
    const args = toolInput(toolBlock);
    const json = JSON.stringify(args);
    const toolId = mockId('toolu_01', 22);
    blocks.push({
      full: { type: 'tool_use', id: toolId, name: toolBlock.name, input: args },
      start: { type: 'tool_use', id: toolId, name: toolBlock.name, input: {} },
      deltas: ['', ...pieces(json, 16)].map((partial) => ({ type: 'input_json_delta', partial_json: partial })),
    });
    outputTokens += countTextTokens(String(toolBlock.name) + json, model);
  }
  const stopReason = run.refused ? 'refusal' : stop.stopped ? 'stop_sequence' : len.cut || prewarm ? 'max_tokens' : toolBlock ? 'tool_use' : 'end_turn';
  const stopSequence = stop.stopped ?? null;
  // Always present, null "when the `stop_reason` has no additional detail to report" (the SDK's Message and
  // message_delta types): MessageStream copies it from message_delta unconditionally.
  const stopDetails = run.refused ? REFUSAL_DETAILS : null;
  const served = usage(input, outputTokens, placementOf(attempt));
  // A fallback model ran: each attempt's usage, the declined ones producing nothing; the top level is the serving hop's.
  const fellBack = run.declined.length > 0;
  if (fellBack) {
    served.iterations = [
      ...run.declined.map((m, i) => iterationUsage('message', m, usage(inputOf(m), 0, placementOf(i === 0 ? body : attempt)))),
      iterationUsage('fallback_message', model, served),
    ];
  }

  if (body.stream === true) {
    const message: Record<string, unknown> = {
      id,
      type: 'message',
      role: 'assistant',
      // The requested model: a fallback hop is told by its `fallback` block.
      model: body.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
    };
    // The real stream reports one output token up front and the cumulative total in message_delta.
    // (None for a max_tokens 0 pre-warm, which generates nothing.)
    if (!controls.omitUsage) message.usage = usage(fellBack ? inputOf(body.model as string) : input, prewarm ? 0 : 1, placementOf(body));
    const delta: Record<string, unknown> = {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: stopSequence, stop_details: stopDetails },
    };
    // Today's API repeats the (cumulative) input and cache figures in message_delta, without the TTL split.
    if (!controls.omitUsage && fellBack) {
      const { input_tokens, cache_creation_input_tokens, cache_read_input_tokens, iterations } = served;
      delta.usage = { input_tokens, cache_creation_input_tokens, cache_read_input_tokens, output_tokens: outputTokens, iterations };
    } else if (!controls.omitUsage) {
      delta.usage = input.cached
        ? { input_tokens: input.fresh, cache_creation_input_tokens: input.write5m + input.write1h, cache_read_input_tokens: input.read, output_tokens: outputTokens }
        : { output_tokens: outputTokens };
    }
    const frames: string[] = [encodeSseEvent({ event: 'message_start', data: JSON.stringify({ type: 'message_start', message }) })];
    blocks.forEach((block, index) => {
      if (block.start.type === 'fallback') {
        // A hop's marker: a start and a stop, no deltas.
        frames.push(frame('content_block_start', { type: 'content_block_start', index, content_block: block.start }));
        if (index === 0) frames.push('event: ping\ndata: {"type": "ping"}\n\n');
        frames.push(`event: content_block_stop\ndata: {"type":"content_block_stop","index":${index}}\n\n`);
        return;
      }
      if (block.start.type === 'text') {
        frames.push(`event: content_block_start\ndata: {"type":"content_block_start","index":${index},"content_block":{"type":"text","text":""}}\n\n`);
      } else frames.push(frame('content_block_start', { type: 'content_block_start', index, content_block: block.start }));
      if (index === 0) frames.push('event: ping\ndata: {"type": "ping"}\n\n');
      if (block.start.type === 'text') {
        for (const piece of text) {
          frames.push(
            `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":` +
              JSON.stringify(piece) +
              '}}\n\n',
          );
        }
      } else for (const d of block.deltas) frames.push(frame('content_block_delta', { type: 'content_block_delta', index, delta: d }));
      frames.push(`event: content_block_stop\ndata: {"type":"content_block_stop","index":${index}}\n\n`);
    });
    frames.push(encodeSseEvent({ event: 'message_delta', data: JSON.stringify(delta) }), 'event: message_stop\ndata: {"type":"message_stop"}\n\n');
    return sseReply(call, 'anthropic', frames);
  }

  const value: Record<string, unknown> = {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: blocks.map((b) => b.full),
    stop_reason: stopReason,
    stop_sequence: stopSequence,
    stop_details: stopDetails,
  };
  if (!controls.omitUsage) value.usage = served;
  return jsonReply(call, 'anthropic', value);
}

/** Answers POST /v1/messages/count_tokens with `{"input_tokens": N}`. */
export function mockAnthropicCountTokens(call: MockCall): MockReply {
  const invalid = fieldRequired(call, ['model', 'messages']);
  if (invalid) return invalid;
  const inputTokens = estimateInput('messages', call.body, call.body.model as string).exact();
  return jsonReply(call, 'anthropic', { input_tokens: inputTokens });
}
