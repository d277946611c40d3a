// Who is calling and which model they address: the first two steps of every proxied call.
import { presentedKey } from '../auth/key-store.js';
import type { Principal } from '../auth/principal.js';
import { TollgateError } from '../errors/tollgate-error.js';
import type { Target } from '../routing/route-table.js';
import { addressableNames } from '../routing/addressable-names.js';
import type { Endpoint } from '../tokens/index.js';
import type { Gateway } from './gateway.js';
import { servesEndpoint } from './exchange.js';

/** A proxied request's authenticated caller, and the gateway (config) that serves the whole request. */
export interface Caller {
  gw: Gateway;
  principal: Principal;
}

/**
 * Authenticates the caller (`Authorization: Bearer` or `x-api-key`), or throws the 401 that says what is wrong.
 * `rawHeaders` (the request's as received) shows an `Authorization` header sent twice, which `headers` hides.
 */
export function authenticate(gw: Gateway, headers: Record<string, string | string[] | undefined>, rawHeaders?: readonly string[]): Principal {
  const key = presentedKey(headers, rawHeaders);
  if (!key) throw new TollgateError('missing_api_key');
  const principal = gw.keys.resolve(key);
  if (principal) return principal;
  // The caller holds the secret: telling it that its key expired (and when) tells nothing to anyone else.
  const expired = gw.keys.expiredAt(key);
  if (expired !== undefined) throw new TollgateError('expired_api_key', { resetAt: new Date(expired).toISOString() });
  throw new TollgateError('invalid_api_key');
}

/** The route model a request addresses, or the 404 that lists the models the key can use on this endpoint. */
export function resolveTarget(gw: Gateway, principal: Principal, model: string, endpoint: Endpoint): Target {
  const kind = endpoint === 'embeddings' ? 'embedding' : 'chat';
  const target = gw.routes.resolve(principal, model, kind);
  if (target) return target;
  const ofKind = gw.routes.modelsFor(principal).filter((t) => t.model.kind === kind);
  // Only the models this endpoint serves: the others would be refused with a 400 (planExchange).
  const served = (t: Target): boolean => {
    const provider = gw.providers.get(t.model.provider);
    return provider !== undefined && servesEndpoint(provider, endpoint);
  };
  // The bare names too, as GET /v1/models lists them: `route/model` alone suggests the bare id does not work.
  const available = addressableNames(ofKind, served)
    .map((n) => n.name)
    .join(', ');
  throw new TollgateError('model_not_found', { model, available });
}
