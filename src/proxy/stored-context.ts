// Stored context of the Responses API: `previous_response_id`, `conversation` and `item_reference` items
// bring earlier turns into a call without showing them in its body, and the provider bills them as input.
// Reserved from the body alone, concurrent follow-ups on a long conversation would pass a hard limit many
// times over. So the gateway remembers how much context each response it relayed left behind (that
// call's input plus its output, which the next turn carries), and reserves that. A previous response's
// size also travels in its ownership record (response-owners.ts), which every instance on a shared store
// reads; for context no record tells of (a restart on memory counters, another client, a conversation),
// `enforcement.stored_context_tokens`.
import type { Usage } from '../providers/usage.js';
import type { JsonObject } from './request-shape.js';

/** Responses and conversations remembered; the oldest are forgotten first (their follow-ups get the allowance). */
const MAX_REMEMBERED = 100_000;

/** Context sizes, in tokens, by response id and conversation id. */
export class StoredContext {
  private readonly sizes = new Map<string, number>();

  constructor(private readonly max = MAX_REMEMBERED) {}

  /**
   * Input tokens `body` brings in from stored context: what is known of it, and for the rest `unseen()`
   * (asked only when some is unseen). `recorded`: the sizes the shared ownership records have, which
   * another instance may have written: the previous response's, used when this instance did not see it;
   * the conversation's, used first (items added through the Conversations API grow it there only).
   */
  tokensFor(body: JsonObject, unseen: () => number, recorded: { previous?: number; conversation?: number } = {}): number {
    let known = 0;
    let unknown = false;
    const previous = body.previous_response_id;
    if (typeof previous === 'string' && previous !== '') {
      const size = this.sizes.get(previous) ?? recorded.previous;
      if (size === undefined) unknown = true;
      else known += size;
    }
    const conversation = conversationId(body.conversation);
    if (conversation !== undefined) {
      const size = recorded.conversation ?? this.sizes.get(conversation);
      if (size === undefined) unknown = true;
      else known += size;
    }
    // Items referenced one by one (each from some earlier turn) are unseen context too, and so is a reasoning
    // item handed back by its id alone: with `store: true`, the function-calling loop sends the previous output
    // back as it came, and the provider puts the stored reasoning (often thousands of tokens) into the prompt.
    if (Array.isArray(body.input) && body.input.some(referencesStoredItem)) unknown = true;
    return known + (unknown ? unseen() : 0);
  }

  /** A call answered as `responseId` with `usage`: its follow-ups (and its conversation's) carry that much. */
  record(body: JsonObject, responseId: string | undefined, usage: Usage): void {
    const size = usage.input + usage.output;
    if (responseId) this.remember(responseId, size);
    const conversation = conversationId(body.conversation);
    if (conversation) this.remember(conversation, size);
  }

  private remember(id: string, size: number): void {
    this.sizes.delete(id); // re-inserted last: the map's order is the order of use
    this.sizes.set(id, size);
    if (this.sizes.size > this.max) this.sizes.delete(this.sizes.keys().next().value!);
  }
}

/** The conversation a body continues: `conversation` is its id or an object holding it. */
export function conversationId(conversation: unknown): string | undefined {
  if (typeof conversation === 'string') return conversation || undefined;
  const id = (conversation as JsonObject | null)?.id;
  return typeof conversation === 'object' && typeof id === 'string' && id !== '' ? id : undefined;
}

/** The id of a non-streamed Responses body (`"id"` comes first; only the start is read, never the whole body). */
export function responseIdOf(raw: Buffer): string | undefined {
  return /"id"\s*:\s*"(resp_[^"\\]{1,200})"/.exec(raw.subarray(0, 512).toString('latin1'))?.[1];
}

/** An input item that stands for stored content the body does not show: an item reference, or reasoning by id. */
function referencesStoredItem(item: unknown): boolean {
  const it = item as JsonObject | null;
  if (it?.type === 'item_reference') return true;
  return it?.type === 'reasoning' && typeof it.id === 'string' && (it.encrypted_content === undefined || it.encrypted_content === null);
}
