// The Responses API's retrieval endpoints: GET /v1/responses/{id} (with `?stream=true` it resumes the
// response's events, passed through as they arrive), DELETE /v1/responses/{id}, POST
// /v1/responses/{id}/cancel and GET /v1/responses/{id}/input_items. They consume no tokens
// (stored-object-relay.ts), but each counts against the caller's request-rate limits. Each goes, with
// that provider's own key, to the provider that holds the response, and only for the project that
// created it (response-owners.ts); any other id gets OpenAI's 404 for an id it does not have.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TollgateError } from '../errors/tollgate-error.js';
import type { RetrievalRequest } from '../providers/provider.js';
import type { Caller } from './request-context.js';
import { callersResponse } from './response-owners.js';
import { relayStoredObject } from './stored-object-relay.js';

export type RetrievalOperation = 'retrieve' | 'delete' | 'cancel' | 'input_items';

/** Each operation's route (`:id` the response id) and upstream method and path after the id. */
export const RETRIEVAL_ROUTES: ReadonlyArray<{ operation: RetrievalOperation; method: RetrievalRequest['method']; url: string; suffix: string }> = [
  { operation: 'retrieve', method: 'GET', url: '/v1/responses/:id', suffix: '' },
  { operation: 'delete', method: 'DELETE', url: '/v1/responses/:id', suffix: '' },
  { operation: 'cancel', method: 'POST', url: '/v1/responses/:id/cancel', suffix: '/cancel' },
  { operation: 'input_items', method: 'GET', url: '/v1/responses/:id/input_items', suffix: '/input_items' },
];

/** Serves one retrieval request for the response named in the path. */
export async function handleRetrieval(
  { gw, principal }: Caller,
  route: (typeof RETRIEVAL_ROUTES)[number],
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
): Promise<void> {
  const id = req.params.id;
  // Counted before the owner is looked up: a key guessing ids is held to its rate like any other caller.
  void reply.headers(await gw.engine.admitRequestOnly(req.id, principal));
  const owner = await callersResponse(gw, principal, id);
  const provider = gw.providers.get(owner.provider);
  // Its provider was removed from the config since: nothing can serve the id any more.
  if (!provider?.retrieve || !provider.supports('responses')) throw new TollgateError('response_not_found', { id });

  await relayStoredObject(gw, principal, req, reply, { provider, method: route.method, path: `/responses/${encodeURIComponent(id)}${route.suffix}` });
}
