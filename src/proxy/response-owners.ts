// Ownership of the responses providers store (Responses API). Every tenant calls the provider with the
// gateway's one key, so the provider would hand any stored response to whoever names its id; OpenAI
// scopes them to its API project, and the gateway scopes them to the Tollgate project (organization +
// project) that created them. It records each relayed response's owner in the counter store (shared by
// every instance on Redis) for as long as OpenAI keeps it, and serves reads of it, and continuations by
// `previous_response_id`, only to that project. When the store has no record (a restarted memory store,
// a flushed Redis, a record pushed out), the ledger's row of the call that made the response says whose
// it is (object-owners.ts). An id with no record at all (made before either existed, longer ago than 30
// days, or directly at the provider) is never served by the retrieval endpoints, which would not know
// where to send it, but a continuation naming it is forwarded as before: the provider's own check
// applies, and the stored-context allowance is reserved for it.
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../auth/principal.js';
import { TollgateError } from '../errors/tollgate-error.js';
import type { ResponseOwner } from '../limits/counter-store.js';
import type { Target } from '../routing/route-table.js';
import { throttledLog } from '../util/log-throttle.js';
import { ownedBy, ownerFor, recordedOwner, RESPONSE_OWNER_TTL_MS, unreadable, unreadableUnlessFailOpen } from './object-owners.js';
import type { Gateway } from './gateway.js';
import type { JsonObject } from './request-shape.js';
import type { Usage } from '../providers/usage.js';

/**
 * The ids recorded and looked up: `resp_` and a bounded run of characters that need no escaping in a
 * path. Anything else was never recorded (the retrieval endpoints answer 404 without a lookup).
 */
const RESPONSE_ID = /^resp_[\w.+=-]{1,200}$/;

// During a store outage every Responses call would log its failure: one line every few seconds instead.
const recordFailureLog = throttledLog(5000);

/**
 * Records that the caller's project owns `responseId`, held by `target`'s provider. Called once the
 * answer is written; never awaited, so it delays nothing, and a failure is logged, never the call's.
 */
export function recordResponseOwner(gw: Gateway, log: FastifyBaseLogger, principal: Principal, target: Target, body: JsonObject, responseId: string | undefined, usage: Usage): void {
  // A response made with `store: false` is not kept by the provider: nothing to retrieve or continue.
  if (responseId === undefined || body.store === false || !RESPONSE_ID.test(responseId)) return;
  // What its follow-ups carry (stored-context.ts), for instances that did not see it made.
  const owner = ownerFor(principal, target.model.provider, usage.input + usage.output);
  gw.engine.store.recordResponse(responseId, owner, RESPONSE_OWNER_TTL_MS).catch((err: unknown) => {
    recordFailureLog((count) =>
      log.warn({ responseId, failures: count, error: (err as Error).message }, 'could not record which project owns a response: its retrieval endpoints will answer 404 to every key'),
    );
  });
}

/** The owner of `id` when it is the caller's project; otherwise OpenAI's 404 for an id it does not have. */
export async function callersResponse(gw: Gateway, principal: Principal, id: string): Promise<ResponseOwner> {
  const owner = RESPONSE_ID.test(id) ? await lookUp(gw, id) : undefined;
  // An id another project owns gets the same answer as one nobody does: its existence is not confirmed.
  if (owner === undefined || !ownedBy(owner, principal)) throw new TollgateError('response_not_found', { id });
  return owner;
}

/**
 * Refuses, with OpenAI's 404, a `previous_response_id` that names a response another project owns;
 * before anything is reserved or sent. An id with no record is let through (see the top of this file).
 * Returns the caller's own record of it, whose context size the reservation uses.
 */
export async function previousResponseOwner(gw: Gateway, principal: Principal, body: JsonObject): Promise<ResponseOwner | undefined> {
  const id = body.previous_response_id;
  if (typeof id !== 'string' || id === '') return undefined;
  // No response has such an id; forwarded, it would be a way around the check below should the provider
  // read it leniently (another project's id with a space after it, say).
  if (!RESPONSE_ID.test(id)) throw new TollgateError('previous_response_not_found', { id });
  let owner: ResponseOwner | undefined;
  try {
    owner = await recordedOwner(gw, id);
  } catch (err) {
    return unreadableUnlessFailOpen(gw, err);
  }
  if (owner !== undefined && !ownedBy(owner, principal)) throw new TollgateError('previous_response_not_found', { id });
  return owner;
}

/**
 * The recorded owner, from the store or else the ledger (object-owners.ts); a store that cannot say is a
 * 503 (serving a response unchecked could hand it to another tenant).
 */
async function lookUp(gw: Gateway, id: string): Promise<ResponseOwner | undefined> {
  try {
    return await recordedOwner(gw, id);
  } catch (err) {
    throw unreadable(err);
  }
}
