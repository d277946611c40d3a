// Ownership of conversations (OpenAI's Conversations API), as response-owners.ts does for stored
// responses: every tenant reaches the provider with the gateway's one key, so the provider would let any
// caller naming a conversation id read it, add to it, or continue it. The gateway records the project
// that created each conversation through it (in the counter store, shared by every instance on Redis)
// and serves that conversation, on its own endpoints and as a Responses call's `conversation`, only to
// that project. Unlike a `previous_response_id`, a conversation with no record is refused too: the
// gateway never relayed conversations before it recorded their owners, so one without a record was made
// with the provider key directly (open to every tenant if forwarded). The owner is written to the ledger
// as well, which is asked when the store has no record (object-owners.ts), so that the store forgetting
// a conversation never takes it from its own project. The size is not kept there: after the store lost
// it, the next turn reserves the allowance for unseen context, and records the size again.
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../auth/principal.js';
import { TollgateError } from '../errors/tollgate-error.js';
import type { ResponseOwner } from '../limits/counter-store.js';
import { throttledLog } from '../util/log-throttle.js';
import type { Gateway } from './gateway.js';
import type { JsonObject } from './request-shape.js';
import { ownedBy, ownerFor, recordedOwner, unreadable, unreadableUnlessFailOpen } from './object-owners.js';
import { conversationId } from './stored-context.js';

/**
 * OpenAI keeps conversations without a time limit; their records last a year from their last use (a
 * turn in them or items added), so a conversation left unused that long is forgotten.
 */
export const CONVERSATION_OWNER_TTL_MS = 365 * 24 * 3_600_000;

/** The ids recorded and looked up: `conv_` and a bounded run of characters that need no escaping in a path. */
const CONVERSATION_ID = /^conv_[\w.+=-]{1,200}$/;

const refreshFailureLog = throttledLog(5000);
const archiveFailureLog = throttledLog(5000);

/**
 * Records that the caller's project owns conversation `id`, made on `provider`, carrying `contextTokens`.
 * Awaited before the client learns the id: its next call may name it, on any instance. A store that
 * cannot take it is a 503 (the conversation would otherwise be one nobody can use).
 */
export async function recordConversationOwner(gw: Gateway, log: FastifyBaseLogger, principal: Principal, provider: string, id: string, contextTokens: number): Promise<void> {
  if (!CONVERSATION_ID.test(id)) return;
  const owner = ownerFor(principal, provider, contextTokens);
  try {
    await gw.engine.store.recordResponse(id, owner, CONVERSATION_OWNER_TTL_MS);
  } catch (err) {
    throw unreadable(err);
  }
  // Not awaited: the store's record serves until it is lost, which a restart later at the earliest can do.
  const { contextTokens: _, ...archived } = owner;
  gw.ownerArchive?.recordConversation(id, archived, gw.clock.now()).catch((err: unknown) => {
    archiveFailureLog((count) =>
      log.warn({ conversationId: id, failures: count, error: (err as Error).message }, "could not write a conversation's owner to the ledger: if the counter store loses its record, the conversation is refused"),
    );
  });
}

/** The owner of conversation `id` when it is the caller's project; otherwise OpenAI's 404 for an id it does not have. */
export async function callersConversation(gw: Gateway, principal: Principal, id: string): Promise<ResponseOwner> {
  let owner: ResponseOwner | undefined;
  try {
    owner = CONVERSATION_ID.test(id) ? await recordedOwner(gw, id) : undefined;
  } catch (err) {
    throw unreadable(err);
  }
  // Another project's conversation gets the same answer as one nobody has: its existence is not confirmed.
  if (owner === undefined || !ownedBy(owner, principal)) throw new TollgateError('conversation_not_found', { id });
  return owner;
}

/**
 * For a Responses call naming a `conversation`: the caller's record of it, whose size the reservation
 * uses; a conversation another project owns, or none does, is refused with OpenAI's 404 before anything
 * is reserved or sent. While the shared store cannot be read: forwarded where limits fail open, refused
 * (503) where they fail closed, as a `previous_response_id` is.
 */
export async function conversationOwner(gw: Gateway, principal: Principal, body: JsonObject): Promise<ResponseOwner | undefined> {
  const id = conversationId(body.conversation);
  if (id === undefined) return undefined;
  let owner: ResponseOwner | undefined;
  try {
    owner = CONVERSATION_ID.test(id) ? await recordedOwner(gw, id) : undefined;
  } catch (err) {
    return unreadableUnlessFailOpen(gw, err);
  }
  if (owner === undefined || !ownedBy(owner, principal)) throw new TollgateError('unknown_conversation', { id });
  return owner;
}

/**
 * Items added to the conversation grow its record by `tokens`, in one step in the store (two adds at once,
 * through one instance or two, both count), and it lives another year. Never awaited; a failure is logged.
 */
export function growConversation(gw: Gateway, log: FastifyBaseLogger, id: string, tokens: number): void {
  gw.engine.store.growResponse(id, tokens, CONVERSATION_OWNER_TTL_MS).catch((err: unknown) => {
    refreshFailureLog((count) => log.warn({ conversationId: id, failures: count, error: (err as Error).message }, "could not update a conversation's recorded size"));
  });
}

/**
 * The conversation now carries `contextTokens` (after a turn in it): its record says so, for every
 * instance, and lives another year. `owner` is the record as the turn read it: the record grows by what
 * the turn changed, in one step in the store, so items added while the turn ran still count (set
 * outright, the turn's size replaced theirs and the next turn under-reserved by them). Returns the record
 * as the turn leaves it, for a turn remembered again (a background response: by its grant, then its usage).
 * Never awaited; a failure is logged (the record keeps its older size).
 */
export function refreshConversation(gw: Gateway, log: FastifyBaseLogger, id: string, owner: ResponseOwner, contextTokens: number): ResponseOwner {
  const record: ResponseOwner = { ...owner, contextTokens };
  const failed = (err: unknown): void =>
    refreshFailureLog((count) => log.warn({ conversationId: id, failures: count, error: (err as Error).message }, "could not update a conversation's recorded size"));
  // A record without a size (written by an older release) has nothing to grow: it is given one.
  if (owner.contextTokens === undefined) gw.engine.store.recordResponse(id, record, CONVERSATION_OWNER_TTL_MS).catch(failed);
  else gw.engine.store.growResponse(id, contextTokens - owner.contextTokens, CONVERSATION_OWNER_TTL_MS).catch(failed);
  return record;
}
