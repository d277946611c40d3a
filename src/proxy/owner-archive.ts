// Where the owners of stored objects outlive the counter store's records of them: the ledger. A memory
// store's restart, a flushed Redis, or a record pushed out of a full memory store forgets an owner; the
// ledger still knows it (a conversation's from its own table, a response's from the row of the call that
// made it). Asked only when the store has no record, and written back to the store.
import { TollgateError } from '../errors/tollgate-error.js';
import type { ResponseOwner } from '../limits/counter-store.js';
import type { Gateway } from './gateway.js';

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

/**
 * The archived owner of a conversation (`conv_...`), or of a response made within `responseTtlMs`,
 * written back to the store; undefined without an archive or a record in it. An archive that cannot
 * say is a 503: refusing an owner its own object, or serving it to another, would both be wrong.
 */
export async function archivedOwner(gw: Gateway, id: string, responseTtlMs?: number): Promise<ResponseOwner | undefined> {
  const archive = gw.ownerArchive;
  if (!archive) return undefined;
  let owner: ResponseOwner | undefined;
  try {
    owner = responseTtlMs === undefined ? await archive.conversationOwner(id) : await archive.responseOwner(id, gw.clock.now() - responseTtlMs);
  } catch {
    throw new TollgateError('owners_unavailable', {}, { 'retry-after': '1' });
  }
  if (owner !== undefined) gw.engine.store.recordResponse(id, owner, WRITTEN_BACK_TTL_MS).catch(() => undefined);
  return owner;
}
