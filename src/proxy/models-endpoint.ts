// `GET /v1/models` and `/v1/models/:model`: only the models the calling key may use, in OpenAI's list
// format, or in Anthropic's for the Anthropic SDK (which sends `anthropic-version`), where only models
// that `/v1/messages` serves are listed.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TollgateError } from '../errors/tollgate-error.js';
import type { Gateway } from './gateway.js';
import { authenticate } from './request-context.js';
import type { Target } from '../routing/route-table.js';
import { addressableNames } from '../routing/addressable-names.js';
import { servesEndpoint, wireOfRequest } from './exchange.js';
import { anthropicPage } from '../util/anthropic-page.js';

// Fixed so that listings are stable across restarts.
const CREATED = 1_700_000_000;
const CREATED_AT = new Date(CREATED * 1000).toISOString().replace('.000Z', 'Z');

interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

type Lifecycle = 'active' | 'deprecated' | 'retired';
const LIFECYCLES: readonly Lifecycle[] = ['active', 'deprecated', 'retired'];

/**
 * Anthropic's ModelInfo, every field the SDK declares. The gateway's names are aliases it serves, so each is
 * `active`; what it does not know of the model behind one (limits, capabilities, line) is null, as the API
 * has it for an unknown value.
 */
interface AnthropicModel {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
  capabilities: null;
  max_input_tokens: null;
  max_tokens: null;
  lifecycle: Lifecycle;
  deprecated_at: null;
  retires_at: null;
  line: null;
}

/** Every name the key can address (addressable-names.ts), as OpenAI lists models. */
function listFor(targets: Target[]): ModelObject[] {
  return addressableNames(targets).map(({ name, target }) => ({ id: name, object: 'model', created: CREATED, owned_by: target.route.name }));
}

/**
 * The names the key can use on `/v1/messages`, as Anthropic lists models: chat models only, as it resolves
 * only those, and only the names that reach a model whose provider speaks Anthropic's API.
 */
function anthropicListFor(gw: Gateway, targets: Target[]): AnthropicModel[] {
  const chat = targets.filter((t) => t.model.kind === 'chat');
  const served = (t: Target): boolean => {
    const provider = gw.providers.get(t.model.provider);
    return provider !== undefined && servesEndpoint(provider, 'messages');
  };
  return addressableNames(chat, served).map(({ name }) => ({
    type: 'model',
    id: name,
    display_name: name,
    created_at: CREATED_AT,
    capabilities: null,
    max_input_tokens: null,
    max_tokens: null,
    lifecycle: 'active',
    deprecated_at: null,
    retires_at: null,
    line: null,
  }));
}

/** Handles `GET /v1/models`. */
export function listModels(gw: Gateway, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const principal = authenticate(gw, req.headers, req.raw.rawHeaders);
  const targets = gw.routes.modelsFor(principal);
  if (wireOfRequest(req) === 'anthropic') {
    const query = req.query as Record<string, string | string[] | undefined>;
    const stages = lifecyclesOf(query);
    const page = anthropicPage(anthropicListFor(gw, targets).filter((m) => stages.includes(m.lifecycle)), query);
    if ('refused' in page) throw new TollgateError('invalid_request', { detail: page.refused });
    return reply.send(page);
  }
  return reply.send({ object: 'list', data: listFor(targets) });
}

/** Handles `GET /v1/models/:model` (the id may contain a slash). */
export function retrieveModel(gw: Gateway, req: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply): FastifyReply {
  const principal = authenticate(gw, req.headers, req.raw.rawHeaders);
  const id = req.params['*'];
  const targets = gw.routes.modelsFor(principal);
  const models: Array<{ id: string }> = wireOfRequest(req) === 'anthropic' ? anthropicListFor(gw, targets) : listFor(targets);
  const found = models.find((m) => m.id === id);
  if (!found) throw new TollgateError('model_not_found', { model: id, available: models.map((m) => m.id).join(', ') });
  return reply.send(found);
}

/**
 * The lifecycle stages a list asks for: `lifecycle` repeated (`?lifecycle=active&lifecycle=retired`) or with
 * brackets, as the SDK sends it (`lifecycle[]=active`); up to 3, active and deprecated when none is named.
 */
function lifecyclesOf(query: Record<string, string | string[] | undefined>): readonly string[] {
  const named = [query.lifecycle ?? [], query['lifecycle[]'] ?? []].flat();
  if (named.length === 0) return ['active', 'deprecated'];
  if (named.length > 3) throw new TollgateError('invalid_request', { detail: 'lifecycle: List should have at most 3 items.' });
  const unknown = named.findIndex((stage) => !(LIFECYCLES as readonly string[]).includes(stage));
  if (unknown >= 0) throw new TollgateError('invalid_request', { detail: `lifecycle.${unknown}: Input should be 'active', 'deprecated' or 'retired'.` });
  return named;
}
