// `GET /v1/models`: only the models the calling key may use, in OpenAI's list format.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TollgateError } from '../errors/tollgate-error.js';
import type { Gateway } from './gateway.js';
import { authenticate } from './request-context.js';
import type { Target } from '../routing/route-table.js';

// Fixed so that listings are stable across restarts.
const CREATED = 1_700_000_000;

interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/** Every name the key can address: `route/model_id` always, and the bare `model_id` where it resolves to that entry. */
function listFor(targets: Target[]): ModelObject[] {
  const seen = new Set<string>();
  const out: ModelObject[] = [];
  const push = (id: string, route: string): void => {
    if (seen.has(id)) return;
    seen.add(id);
    out.push({ id, object: 'model', created: CREATED, owned_by: route });
  };
  for (const t of targets) {
    push(t.model.modelId, t.route.name);
    push(t.qualifiedName, t.route.name);
  }
  return out;
}

/** Handles `GET /v1/models`. */
export function listModels(gw: Gateway, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const principal = authenticate(gw, req.headers);
  return reply.send({ object: 'list', data: listFor(gw.routes.modelsFor(principal)) });
}

/** Handles `GET /v1/models/:model` (the id may contain a slash). */
export function retrieveModel(gw: Gateway, req: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply): FastifyReply {
  const principal = authenticate(gw, req.headers);
  const id = req.params['*'];
  const models = listFor(gw.routes.modelsFor(principal));
  const found = models.find((m) => m.id === id);
  if (!found) throw new TollgateError('model_not_found', { model: id, available: models.map((m) => m.id).join(', ') });
  return reply.send(found);
}
