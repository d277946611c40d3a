// What a Responses API turn leaves behind once settled: the context its follow-ups carry (this instance's
// memory, stored-context.ts), the project that owns the stored response (response-owners.ts), and the
// conversation's new size in its owner's record (conversation-owners.ts).
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { ResponseOwner } from '../limits/counter-store.js';
import type { Usage } from '../providers/usage.js';
import type { Target } from '../routing/route-table.js';
import { refreshConversation } from './conversation-owners.js';
import type { Gateway } from './gateway.js';
import type { JsonObject } from './request-shape.js';
import { recordResponseOwner } from './response-owners.js';
import { conversationId } from './stored-context.js';

/**
 * Remembers a turn answered as `responseId` with `usage`; `conversation`: the caller's record of the
 * conversation it was in. Returns that record as the turn leaves it (the turn of a background response is
 * remembered twice, and the second time starts from it).
 */
export function rememberTurn(
  gw: Gateway,
  log: FastifyBaseLogger,
  principal: Principal,
  target: Target,
  body: JsonObject,
  responseId: string | undefined,
  usage: Usage,
  conversation: ResponseOwner | undefined,
): ResponseOwner | undefined {
  gw.storedContext.record(body, responseId, usage);
  recordResponseOwner(gw, log, principal, target, body, responseId, usage);
  // The turn's input held the whole conversation so far; with its output, that is what the next turn carries.
  if (conversation === undefined) return undefined;
  return refreshConversation(gw, log, conversationId(body.conversation)!, conversation, usage.input + usage.output);
}
