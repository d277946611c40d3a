// Resolves a presented secret to a principal by its SHA-256; the secret itself is never stored or logged.
import { sha256Hex } from '../config/sha256.js';
import type { KeyPolicy } from '../config/policy.js';
import { TollgateError } from '../errors/tollgate-error.js';
import type { Principal } from './principal.js';

/** The principal a configured key stands for. */
export function principalOf(k: KeyPolicy): Principal {
  return { keyId: k.id, organization: k.organization, project: k.project, user: k.user ?? k.id, tier: k.tier, groups: k.groups, routes: k.routes };
}

export class KeyStore {
  private readonly byHash = new Map<string, Principal>();

  constructor(keys: KeyPolicy[]) {
    for (const k of keys) this.byHash.set(k.sha256, principalOf(k));
  }

  /** The principal for a presented secret, or undefined when the key is unknown. */
  resolve(secret: string): Principal | undefined {
    return this.byHash.get(sha256Hex(secret));
  }
}

/**
 * Reads the client's key from `Authorization: Bearer` or `x-api-key`. Both may come (a client configured
 * with a key in two places), but then they must name the same key: charging either one of two different
 * keys would be a guess, so that is the 401 `ambiguous_api_key`.
 */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  const bearer = typeof auth === 'string' && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ' ? auth.slice(7).trim() : undefined;
  const apiKey = headers['x-api-key'];
  const xApiKey = typeof apiKey === 'string' && apiKey.length > 0 ? apiKey.trim() : undefined;
  if (bearer !== undefined && xApiKey !== undefined && bearer !== xApiKey) throw new TollgateError('ambiguous_api_key');
  return bearer ?? xApiKey;
}
