// OpenAI's Conversations API through the gateway: POST /v1/conversations; GET, POST (metadata) and
// DELETE /v1/conversations/{id}; GET and POST /v1/conversations/{id}/items; GET and DELETE
// /v1/conversations/{id}/items/{item_id}. They consume no tokens (stored-object-relay.ts), but each counts
// against the caller's request-rate limits. A conversation is made on the provider of the first model
// the key can use whose provider keeps them, is recorded as its creator's project's, and is then served,
// with that provider's own key, only to that project (conversation-owners.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import { invalidRequest, TollgateError } from '../errors/tollgate-error.js';
import type { Provider, RetrievalRequest } from '../providers/provider.js';
import { estimateInput } from '../tokens/index.js';
import { callersConversation, growConversation, recordConversationOwner } from './conversation-owners.js';
import type { Gateway } from './gateway.js';
import type { Caller } from './request-context.js';
import type { JsonObject } from './request-shape.js';
import { relayStoredObject } from './stored-object-relay.js';

export type ConversationOperation = 'create' | 'retrieve' | 'update' | 'delete' | 'list_items' | 'add_items' | 'retrieve_item' | 'delete_item';

export interface ConversationRoute {
  operation: ConversationOperation;
  method: RetrievalRequest['method'];
  url: string;
  /** Whether the client sends a JSON body, passed on as it came. */
  body: boolean;
}

export const CONVERSATION_ROUTES: readonly ConversationRoute[] = [
  { operation: 'create', method: 'POST', url: '/v1/conversations', body: true },
  { operation: 'retrieve', method: 'GET', url: '/v1/conversations/:id', body: false },
  { operation: 'update', method: 'POST', url: '/v1/conversations/:id', body: true },
  { operation: 'delete', method: 'DELETE', url: '/v1/conversations/:id', body: false },
  { operation: 'list_items', method: 'GET', url: '/v1/conversations/:id/items', body: false },
  { operation: 'add_items', method: 'POST', url: '/v1/conversations/:id/items', body: true },
  { operation: 'retrieve_item', method: 'GET', url: '/v1/conversations/:id/items/:item_id', body: false },
  { operation: 'delete_item', method: 'DELETE', url: '/v1/conversations/:id/items/:item_id', body: false },
];

const ITEM_ID = /^\w[\w.+=-]{0,199}$/;

type ConversationParams = { id?: string; item_id?: string };

/** Serves one Conversations API request. */
export async function handleConversation({ gw, principal }: Caller, route: ConversationRoute, req: FastifyRequest<{ Params: ConversationParams }>, reply: FastifyReply): Promise<void> {
  // Counted before any owner is looked up: a key guessing ids is held to its rate like any other caller.
  void reply.headers(await gw.engine.admitRequestOnly(req.id, principal));
  const body = route.body ? jsonBody(req) : undefined;
  if (route.operation === 'create') return createConversation(gw, principal, req, reply, body!);

  const id = req.params.id!;
  const owner = await callersConversation(gw, principal, id);
  const provider = gw.providers.get(owner.provider);
  // Its provider was removed from the config since: nothing can serve the id any more.
  if (!provider?.retrieve || !provider.supports('responses')) throw new TollgateError('conversation_not_found', { id });
  const item = req.params.item_id === undefined ? '' : `/${itemPathSegment(req.params.item_id)}`;
  const path = `/conversations/${encodeURIComponent(id)}${route.url.includes('/items') ? `/items${item}` : ''}`;
  // Items added are context every later turn carries: the record's size grows by their bound, in one step
  // in the store. A size not known (the owner came back from the ledger) stays unknown: the next turn
  // reserves the allowance.
  const beforeAnswer =
    route.operation === 'add_items' && owner.contextTokens !== undefined
      ? async (status: number): Promise<void> => {
          if (status === 200) growConversation(gw, req.log, id, itemsTokens(body!.value.items));
        }
      : undefined;
  await relayStoredObject(gw, principal, req, reply, { provider, method: route.method, path, body: body?.text, beforeAnswer });
}

/** Makes a conversation on the key's provider and records the caller's project as its owner before answering. */
async function createConversation(gw: Gateway, principal: Principal, req: FastifyRequest, reply: FastifyReply, body: { value: JsonObject; text: string }): Promise<void> {
  const provider = conversationProvider(gw, principal);
  const beforeAnswer = async (status: number, raw: Buffer): Promise<void> => {
    if (status !== 200) return;
    const id = idOf(raw);
    if (id === undefined) req.log.warn({ provider: provider.name }, 'a created conversation came back without an id: it cannot be recorded, nor used through the gateway');
    else await recordConversationOwner(gw, req.log, principal, provider.name, id, itemsTokens(body.value.items));
  };
  await relayStoredObject(gw, principal, req, reply, { provider, method: 'POST', path: '/conversations', body: body.text, beforeAnswer });
}

/** The provider of the first model the key can use whose provider keeps conversations. */
function conversationProvider(gw: Gateway, principal: Principal): Provider {
  for (const target of gw.routes.modelsFor(principal)) {
    const provider = gw.providers.get(target.model.provider);
    if (provider?.retrieve && provider.supports('responses')) return provider;
  }
  throw new TollgateError('conversations_unavailable');
}

/** The request's JSON object and its text as sent; an empty body is `{}` (the SDK sends one for a bare create). */
function jsonBody(req: FastifyRequest): { value: JsonObject; text: string } {
  const value = req.body ?? {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidRequest('The request body must be a JSON object.');
  return { value: value as JsonObject, text: req.rawBody ?? '{}' };
}

/**
 * The OpenAI models whose images (and so a file's pages) cost the most: gpt-4o-mini's tiles at high detail,
 * the patch models' (which ignore `detail`) at low. Text is bounded by its bytes for every model alike.
 */
const COSTLIEST_MEDIA = ['gpt-4o-mini', 'gpt-4.1-nano'];

/**
 * A bound on the input tokens `items` add to every later turn. No model is known yet, and the turn on any
 * of the key's models bills them at that model's price: an image bounded for gpt-4o (1,445 tokens) is up to
 * 48,169 on gpt-4o-mini. So the most any OpenAI model could bill them.
 */
function itemsTokens(items: unknown): number {
  if (!Array.isArray(items) || items.length === 0) return 0;
  let bound = 0;
  for (const model of COSTLIEST_MEDIA) bound = Math.max(bound, estimateInput('responses', { input: items }, model).upperBound);
  return bound;
}

/**
 * An item id as a path segment. Ids are word characters with `.+=-`; one made of dots alone (`..`) would
 * name the conversation itself to a server that normalizes paths, so none may start with a dot.
 */
function itemPathSegment(id: string): string {
  if (!ITEM_ID.test(id)) throw invalidRequest(`'${id.slice(0, 64)}' is not a conversation item id.`);
  return encodeURIComponent(id);
}

function idOf(raw: Buffer): string | undefined {
  try {
    const id = (JSON.parse(raw.toString('utf8')) as JsonObject | null)?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
