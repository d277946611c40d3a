// The conversations the mock created, answered as OpenAI's Conversations API answers: POST
// /v1/conversations (with up to 20 initial items), GET, POST (metadata) and DELETE
// /v1/conversations/{id}, GET and POST /v1/conversations/{id}/items, GET and DELETE
// /v1/conversations/{id}/items/{item_id}. A response made with `conversation` reads it and adds its input
// and output items to it; one naming a conversation the mock does not have gets OpenAI's 404.
// Stateful, unlike the generators: one store per mock upstream.
import { safeDecode } from './handle-mock-request.js';
import { jsonReply, type MockCall } from './mock-call.js';
import { openAiError } from './mock-errors.js';
import { mockId, nowSeconds } from './mock-ids.js';
import { inputItemsOf, listOf, responseOfReply, storeCall } from './stored-responses.js';
import type { MockOptions, MockReply } from './types.js';

/** Conversations kept at most; the oldest are forgotten first. */
const MAX_STORED = 1000;
/** OpenAI takes at most 20 items per create call. */
const MAX_ITEMS_PER_CALL = 20;
/** Groups: the conversation id, `/items` when the path is on its items, the item id. */
const CONVERSATION_PATH = /^\/v1\/conversations(?:\/([^/]+)(\/items(?:\/([^/]+))?)?)?$/;

interface StoredConversation {
  conversation: { id: string; object: 'conversation'; created_at: number; metadata: Record<string, unknown> };
  items: Array<Record<string, unknown>>;
}

/** The conversation id a Responses body names: `conversation` is the id or an object holding it. */
export function conversationIdOf(body: unknown): string | undefined {
  const value = (body as Record<string, unknown> | null)?.conversation;
  const id = typeof value === 'string' ? value : (value as Record<string, unknown> | null)?.id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

export class MockConversationStore {
  private readonly stored = new Map<string, StoredConversation>();

  constructor(private readonly max = MAX_STORED) {}

  /** OpenAI's 404 for a Responses body naming a conversation the mock does not have; undefined otherwise. */
  refuseUnknown(body: unknown, opts: MockOptions): MockReply | undefined {
    const id = conversationIdOf(body);
    if (id === undefined || this.stored.has(id)) return undefined;
    return openAiError(404, notFound(id), { param: 'conversation', code: null }, storeCall(opts).latencyMs);
  }

  /** Adds a response's input and output items to the conversation its body named. */
  remember(body: unknown, reply: MockReply): void {
    const id = conversationIdOf(body);
    const stored = id === undefined ? undefined : this.stored.get(id);
    const response = stored && responseOfReply(reply);
    if (!stored || !response) return;
    const output = Array.isArray(response.output) ? (response.output as Array<Record<string, unknown>>) : [];
    stored.items.push(...inputItemsOf((body as Record<string, unknown>).input), ...output);
  }

  /** The answer to a Conversations API request, or undefined when `method url` is not one. */
  answer(method: string, url: string, body: unknown, opts: MockOptions): MockReply | undefined {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const match = CONVERSATION_PATH.exec(path);
    if (!match) return undefined;
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const call = storeCall(opts);
    const m = method.toUpperCase();
    const request = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (match[1] === undefined) return m === 'POST' ? this.create(request, call) : undefined;

    const id = safeDecode(match[1]);
    const stored = this.stored.get(id);
    const onItems = match[2] !== undefined;
    const itemId = match[3] === undefined ? undefined : safeDecode(match[3]);
    const known = onItems ? (itemId === undefined ? m === 'GET' || m === 'POST' : m === 'GET' || m === 'DELETE') : m === 'GET' || m === 'POST' || m === 'DELETE';
    if (!known) return undefined;
    if (!stored) return openAiError(404, notFound(id), { code: null }, call.latencyMs);

    if (!onItems) {
      if (m === 'GET') return jsonReply(call, 'openai', stored.conversation);
      if (m === 'DELETE') {
        this.stored.delete(id);
        return jsonReply(call, 'openai', { id, object: 'conversation.deleted', deleted: true });
      }
      if (!isObject(request.metadata)) return openAiError(400, "Missing required parameter: 'metadata'.", { param: 'metadata', code: 'missing_required_parameter' }, call.latencyMs);
      stored.conversation.metadata = request.metadata;
      return jsonReply(call, 'openai', stored.conversation);
    }
    if (itemId === undefined) {
      if (m === 'GET') return jsonReply(call, 'openai', listOf(stored.items, query));
      const refused = itemsRefused(request.items, true, call.latencyMs);
      if (refused) return refused;
      const added = inputItemsOf(request.items);
      stored.items.push(...added);
      return jsonReply(call, 'openai', { object: 'list', data: added, first_id: added[0].id, last_id: added[added.length - 1].id, has_more: false });
    }
    const at = stored.items.findIndex((item) => item.id === itemId);
    if (at === -1) return openAiError(404, `Item with id '${itemId}' not found.`, { code: null }, call.latencyMs);
    if (m === 'GET') return jsonReply(call, 'openai', stored.items[at]);
    stored.items.splice(at, 1);
    // OpenAI answers an item's deletion with the conversation it was taken from.
    return jsonReply(call, 'openai', stored.conversation);
  }

  /** Creates a conversation; an error reply when its initial items are not a list of at most 20. */
  private create(request: Record<string, unknown>, call: MockCall): MockReply {
    if (request.items !== undefined && request.items !== null) {
      const refused = itemsRefused(request.items, false, call.latencyMs);
      if (refused) return refused;
    }
    const conversation = { id: mockId('conv_', 48), object: 'conversation' as const, created_at: nowSeconds(), metadata: isObject(request.metadata) ? request.metadata : {} };
    this.stored.set(conversation.id, { conversation, items: inputItemsOf(request.items) });
    if (this.stored.size > this.max) this.stored.delete(this.stored.keys().next().value!);
    return jsonReply(call, 'openai', conversation);
  }
}

function notFound(id: string): string {
  return `Conversation with id '${id}' not found.`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function itemsRefused(items: unknown, required: boolean, latencyMs: number): MockReply | undefined {
  if (items === undefined && required) return openAiError(400, "Missing required parameter: 'items'.", { param: 'items', code: 'missing_required_parameter' }, latencyMs);
  if (!Array.isArray(items) || (required && items.length === 0)) return openAiError(400, "Invalid 'items': expected a non-empty array.", { param: 'items', code: 'invalid_type' }, latencyMs);
  if (items.length > MAX_ITEMS_PER_CALL) {
    return openAiError(400, `Invalid 'items': array too long. Expected an array with maximum length ${MAX_ITEMS_PER_CALL}, but got an array with length ${items.length} instead.`, { param: 'items', code: 'array_above_max_length' }, latencyMs);
  }
  return undefined;
}
