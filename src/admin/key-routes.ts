// The admin API's managed keys: `/api/keys` (create, list), `/api/keys/{id}` (show, change with PATCH,
// revoke with DELETE) and `/api/keys/{id}/rotate`. Every route needs the admin key, checked before a body is read.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Policy } from '../config/policy.js';
import { TollgateError } from '../errors/tollgate-error.js';
import { createKey, getKey, listKeys, revokeKey, rotateKey, updateKey, type KeyAdminContext, type KeyView } from '../auth/key-admin.js';
import { requireAdmin } from './admin-auth.js';

export interface KeyRoutesContext {
  /** The policy in force (its admin key). */
  policy: () => Policy;
  /** Undefined when the gateway runs without a ledger, where managed keys are kept. */
  keys: KeyAdminContext | undefined;
}

/** Bodies of key requests are a few fields. */
const KEY_BODY_LIMIT = 16 * 1024;

type ById = { Params: { id: string } };

export function keyRoutes(ctx: KeyRoutesContext): (app: FastifyInstance) => void {
  return (app) => {
    const admin = (req: FastifyRequest, _reply: unknown, done: (err?: Error) => void): void => {
      try {
        requireAdmin(ctx.policy().server.adminKeySha256, req);
        if (!ctx.keys) throw new TollgateError('key_management_disabled');
        // Only now may the body be parsed (server.ts parses bodies of callers it knows).
        req.adminVerified = true;
        done();
      } catch (err) {
        done(err as Error);
      }
    };
    const keys = (): KeyAdminContext => ctx.keys!;
    const options = { onRequest: admin, bodyLimit: KEY_BODY_LIMIT };

    app.post('/api/keys', options, async (req, reply) => {
      const { view, secret } = await fromKeyTable(() => createKey(keys(), req.body));
      logged(req, view, 'created');
      return reply.code(201).send({ ...view, key: secret });
    });
    app.get('/api/keys', options, async () => ({ object: 'list', data: await fromKeyTable(() => listKeys(keys())) }));
    app.get<ById>('/api/keys/:id', options, async (req) => fromKeyTable(() => getKey(keys(), req.params.id)));
    app.patch<ById>('/api/keys/:id', options, async (req) => logged(req, await fromKeyTable(() => updateKey(keys(), req.params.id, req.body)), 'changed'));
    app.delete<ById>('/api/keys/:id', { ...options, config: { ignoresBody: true } }, async (req) => logged(req, await fromKeyTable(() => revokeKey(keys(), req.params.id)), 'revoked'));
    app.post<ById>('/api/keys/:id/rotate', options, async (req) => {
      const { view, secret } = await fromKeyTable(() => rotateKey(keys(), req.params.id, req.body));
      logged(req, view, 'rotated');
      return { ...view, key: secret };
    });
  };
}

/**
 * One log line per change, the trail of who could use what when: the key's id and whom it stands for,
 * never its secret (nor its hint).
 */
function logged(req: FastifyRequest, view: KeyView, action: 'created' | 'changed' | 'revoked' | 'rotated'): KeyView {
  const { id, organization, project, user, tier, groups, routes, expires_at, previous_key_expires_at } = view;
  req.log.info({ key: id, action, organization, project, user, tier, groups, routes, expires_at, previous_key_expires_at }, `managed key ${id} ${action}`);
  return view;
}

/** A key table whose database fails is a 503 saying so, as the other admin reports are. */
async function fromKeyTable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof TollgateError) throw err;
    throw new TollgateError('ledger_unavailable', { detail: (err as Error).message });
  }
}
