// What the ownership of stored responses (response-owners.ts) and of conversations
// (conversation-owners.ts) share: the owner record, and where it is found. The counter store holds the
// records; the ledger keeps them beyond it (a conversation's in its own table, a response's in the row
// of the call that made it), so a memory store's restart, a flushed Redis, or a record pushed out of a
// full memory store never takes an object from its own project. The ledger is asked only when the store
// has no record, and what it says is written back to the store.
import type { Principal } from '../auth/principal.js';
import { TollgateError } from '../errors/tollgate-error.js';
import { isConversationId, type ResponseOwner } from '../limits/counter-store.js';
import type { Gateway } from './gateway.js';

/** OpenAI keeps a stored response 30 days; its record lives as long, and the ledger is asked no further back. */
export const RESPONSE_OWNER_TTL_MS = 30 * 24 * 3_600_000;

export interface OwnerArchive {
  recordConversation(id: string, owner: ResponseOwner, atMs: number): Promise<void>;
  conversationOwner(id: string): Promise<ResponseOwner | undefined>;
  /** Of a response made since `sinceMs`, with its size (the call's input plus output). */
  responseOwner(id: string, sinceMs: number): Promise<ResponseOwner | undefined>;
}

/**
 * A record written back lives this long at most; past it the ledger is asked again, which also applies
 * the response's own 30 days: so its age need not be carried back.
 */
const WRITTEN_BACK_TTL_MS = 24 * 3_600_000;

/** The record of an object the caller's project made on `provider`, carrying `contextTokens` of context. */
export function ownerFor(principal: Principal, provider: string, contextTokens: number): ResponseOwner {
  const owner: ResponseOwner = { organization: principal.organization, provider, contextTokens };
  if (principal.project !== undefined) owner.project = principal.project;
  return owner;
}

/** Whether `owner` is the caller's project (a key without a project owns what its organization's project-less keys made). */
export function ownedBy(owner: ResponseOwner, principal: Principal): boolean {
  return owner.organization === principal.organization && owner.project === principal.project;
}

/**
 * The owner of `id` (a response or a conversation) the store records, or else the ledger; undefined when
 * neither has one. Rejects as the store does, and with `owners_unavailable` when the ledger cannot say.
 */
export async function recordedOwner(gw: Gateway, id: string): Promise<ResponseOwner | undefined> {
  return (await gw.engine.store.responseOwner(id)) ?? (await archivedOwner(gw, id));
}

/** A store that cannot say who owns an id: a 503 (the caller's own TollgateError as it is). */
export function unreadable(err: unknown): TollgateError {
  return err instanceof TollgateError ? err : new TollgateError('store_unavailable', {}, { 'retry-after': '1' });
}

/**
 * For a continuation (`previous_response_id`, `conversation`) whose owner could not be read: where limits
 * fail open and the shared store is what failed, undefined (the id is treated as one with no record);
 * otherwise the 503, as the limits then refuse.
 */
export function unreadableUnlessFailOpen(gw: Gateway, err: unknown): undefined {
  if (!(err instanceof TollgateError) && gw.engine.store.mode === 'fail_open') return undefined;
  throw unreadable(err);
}

/**
 * The ledger's owner of `id`, written back to the store; undefined without a ledger or a record in it.
 * A ledger that cannot say is a 503: refusing an owner its own object, or serving it to another, would
 * both be wrong.
 */
async function archivedOwner(gw: Gateway, id: string): Promise<ResponseOwner | undefined> {
  const archive = gw.ownerArchive;
  if (!archive) return undefined;
  let owner: ResponseOwner | undefined;
  try {
    owner = isConversationId(id) ? await archive.conversationOwner(id) : await archive.responseOwner(id, gw.clock.now() - RESPONSE_OWNER_TTL_MS);
  } catch {
    throw new TollgateError('owners_unavailable', {}, { 'retry-after': '1' });
  }
  if (owner !== undefined) gw.engine.store.recordResponse(id, owner, WRITTEN_BACK_TTL_MS).catch(() => undefined);
  return owner;
}
