// The responses the mock created and stored (`store` not false), answered again as OpenAI answers their
// retrieval: GET /v1/responses/{id} (the object, or with `stream=true` its events again after
// `starting_after`), DELETE /v1/responses/{id}, POST /v1/responses/{id}/cancel and
// GET /v1/responses/{id}/input_items. Stateful, unlike the generators: one store per mock upstream.
import { encodeSseEvent } from '../sse/index.js';
import { safeDecode } from './handle-mock-request.js';
import { jsonReply, sseReply, type MockCall } from './mock-call.js';
import { openAiError } from './mock-errors.js';
import { mockId } from './mock-ids.js';
import type { MockOptions, MockReply } from './types.js';

/** Responses kept at most (each with its events); the oldest are forgotten first. */
const MAX_STORED = 1000;
const RETRIEVAL_PATH = /^\/v1\/responses\/([^/]+)(?:\/(cancel|input_items))?$/;
const TERMINAL = new Set(['completed', 'incomplete', 'failed', 'cancelled']);

interface StoredResponse {
  response: Record<string, unknown>;
  /** Its events as they were streamed (or, made without a stream, as they would have been). */
  frames: string[];
  inputItems: Array<Record<string, unknown>>;
}

/** A stateful store of created responses; `answer` serves their retrieval endpoints. */
export class MockResponseStore {
  private readonly stored = new Map<string, StoredResponse>();

  constructor(private readonly max = MAX_STORED) {}

  /** Keeps the response a POST /v1/responses of `body` was answered with, unless the body said `store: false`. */
  remember(body: unknown, reply: MockReply): void {
    if (reply.status !== 200 || typeof body !== 'object' || body === null) return;
    const request = body as Record<string, unknown>;
    if (request.store === false) return;
    const stored = storedOf(reply);
    if (!stored) return;
    // The generator always answers `background: false`; what is stored says what was asked.
    stored.response.background = request.background === true;
    stored.inputItems = inputItemsOf(request.input);
    this.stored.set(String(stored.response.id), stored);
    if (this.stored.size > this.max) this.stored.delete(this.stored.keys().next().value!);
  }

  /** The answer to a retrieval request, or undefined when `method url` is not one. */
  answer(method: string, url: string, opts: MockOptions): MockReply | undefined {
    const q = url.indexOf('?');
    const match = RETRIEVAL_PATH.exec(q === -1 ? url : url.slice(0, q));
    if (!match) return undefined;
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const id = safeDecode(match[1]);
    const action = match[2];
    const m = method.toUpperCase();
    const call = storeCall(opts);
    const known = (action === undefined && (m === 'GET' || m === 'DELETE')) || (action === 'cancel' && m === 'POST') || (action === 'input_items' && m === 'GET');
    if (!known) return undefined;
    const stored = this.stored.get(id);
    // What OpenAI answers for an id it does not have (or one another project made).
    if (!stored) return openAiError(404, `Response with id '${id}' not found.`, { code: null }, call.latencyMs);
    if (action === 'input_items') return jsonReply(call, 'openai', listOf(stored.inputItems, query));
    if (action === 'cancel') {
      if (stored.response.background !== true) return openAiError(400, 'Cannot cancel a synchronous response.', { code: null }, call.latencyMs);
      if (!TERMINAL.has(String(stored.response.status))) stored.response.status = 'cancelled';
      return jsonReply(call, 'openai', stored.response);
    }
    if (m === 'DELETE') {
      this.stored.delete(id);
      return jsonReply(call, 'openai', { id, object: 'response', deleted: true });
    }
    if (query.get('stream') === 'true') {
      const after = Number(query.get('starting_after') ?? -1);
      return sseReply(call, 'openai', stored.frames.filter((f) => sequenceOf(f) > after));
    }
    return jsonReply(call, 'openai', stored.response);
  }
}

/** The response a 200 reply to POST /v1/responses carries, as it ended (JSON or streamed). */
export function responseOfReply(reply: MockReply): Record<string, unknown> | undefined {
  return reply.status === 200 ? storedOf(reply)?.response : undefined;
}

function storedOf(reply: MockReply): StoredResponse | undefined {
  return reply.kind === 'json' ? fromJson(reply.body) : fromFrames(reply.frames);
}

/** The call a stored-object endpoint answers as: no body controls, the mock's own timings. */
export function storeCall(opts: MockOptions): MockCall {
  return { body: {}, controls: { omitUsage: false, ignoreMaxTokens: false }, opts, latencyMs: Math.max(0, opts.latencyMs), chunkDelayMs: Math.max(0, opts.chunkDelayMs ?? 0) };
}

function fromJson(text: string): StoredResponse | undefined {
  const response = JSON.parse(text) as Record<string, unknown>;
  if (typeof response.id !== 'string') return undefined;
  const frame = (type: string, sequence: number, value: Record<string, unknown>): string =>
    encodeSseEvent({ event: type, data: JSON.stringify({ type, sequence_number: sequence, response: value }) });
  const terminal = response.status === 'incomplete' ? 'response.incomplete' : 'response.completed';
  const created = { ...response, status: 'in_progress', output: [], usage: null };
  return { response, frames: [frame('response.created', 0, created), frame(terminal, 1, response)], inputItems: [] };
}

function fromFrames(frames: string[]): StoredResponse | undefined {
  // The last event that carries the response has it at its latest (the terminal one, unless cut short).
  let response: Record<string, unknown> | undefined;
  for (let i = frames.length - 1; i >= 0 && !response; i--) {
    const data = dataOf(frames[i]);
    if (data && typeof data.response === 'object' && data.response !== null) response = data.response as Record<string, unknown>;
  }
  if (!response || typeof response.id !== 'string') return undefined;
  return { response: { ...response }, frames, inputItems: [] };
}

function dataOf(frame: string): Record<string, unknown> | undefined {
  const line = /^data: (.*)$/m.exec(frame)?.[1];
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function sequenceOf(frame: string): number {
  const n = dataOf(frame)?.sequence_number;
  return typeof n === 'number' ? n : Infinity;
}

/** The request's input as the input items OpenAI lists: each with an id, text content typed `input_text`. */
export function inputItemsOf(input: unknown): Array<Record<string, unknown>> {
  const items = typeof input === 'string' ? [{ role: 'user', content: input }] : Array.isArray(input) ? input : [];
  return items.map((raw) => {
    const item = { ...(raw as Record<string, unknown>) };
    if (item.type === undefined && item.role !== undefined) item.type = 'message';
    if (item.type === 'message') {
      if (typeof item.content === 'string') item.content = [{ type: 'input_text', text: item.content }];
      item.status ??= 'completed';
    }
    return { id: item.id ?? mockId('msg_', 48), ...item };
  });
}

/** A page of items (newest first by default, as OpenAI lists them), honouring `order`, `limit` and `after`. */
export function listOf(items: Array<Record<string, unknown>>, query: URLSearchParams): Record<string, unknown> {
  let ordered = query.get('order') === 'asc' ? items : [...items].reverse();
  const after = query.get('after');
  if (after !== null) ordered = ordered.slice(ordered.findIndex((i) => i.id === after) + 1);
  const limit = Math.min(100, Math.max(1, Number(query.get('limit') ?? 20) || 20));
  const data = ordered.slice(0, limit);
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: ordered.length > limit };
}
