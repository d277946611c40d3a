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
  /** Secrets a rotation replaced, still accepted until their time (epoch ms); looked at only on a miss. */
  private readonly previous = new Map<string, { principal: Principal; untilMs: number }>();
  /** Keys that expire (managed keys made with `expires_at`), by hash: when. */
  private readonly expiring = new Map<string, number>();

  constructor(
    keys: KeyPolicy[],
    private readonly now: () => number = Date.now,
  ) {
    for (const k of keys) {
      const principal = principalOf(k);
      this.byHash.set(k.sha256, principal);
      if (k.previous) this.previous.set(k.previous.sha256, { principal, untilMs: k.previous.untilMs });
      if (k.expiresAtMs !== undefined) this.expiring.set(k.sha256, k.expiresAtMs);
    }
  }

  /** The principal for a presented secret, or undefined when the key is unknown, expired, or its grace period is over. */
  resolve(secret: string): Principal | undefined {
    const hash = sha256Hex(secret);
    const principal = this.byHash.get(hash);
    // Most gateways have no expiring key: one size check per call.
    if (principal !== undefined) return this.expiring.size === 0 || !(this.now() >= this.expiring.get(hash)!) ? principal : undefined;
    if (this.previous.size === 0) return undefined;
    const replaced = this.previous.get(hash);
    return replaced !== undefined && this.now() < replaced.untilMs ? replaced.principal : undefined;
  }

  /** When the key of a secret resolve() refused expired (epoch ms), for the 401 that says so; undefined for an unknown key. */
  expiredAt(secret: string): number | undefined {
    const until = this.expiring.get(sha256Hex(secret));
    return until !== undefined && this.now() >= until ? until : undefined;
  }
}

/**
 * Reads the client's key from `Authorization: Bearer` or `x-api-key`. Both may come (a client configured
 * with a key in two places), but then they must name the same key: charging either one of two different
 * keys would be a guess, so that is the 401 `ambiguous_api_key`. So are two `Authorization` headers that
 * differ (`rawHeaders`, the request's as received): Node keeps the first and drops the other, and a proxy
 * that appends its own key would have one of the two charged, by their order, without a word. Two
 * `x-api-key` headers (Node joins them with ", ") are one key when they agree, ambiguous when they do not.
 */
export function presentedKey(headers: Record<string, string | string[] | undefined>, rawHeaders: readonly string[] = []): string | undefined {
  const auth = headers.authorization;
  const bearer = typeof auth === 'string' ? bearerOf(auth) : undefined;
  const apiKey = headers['x-api-key'];
  const xApiKey = typeof apiKey === 'string' && apiKey.length > 0 ? (apiKey.includes(',') ? oneXApiKey(apiKey, rawHeaders) : apiKey.trim()) : undefined;
  if (bearer !== undefined && xApiKey !== undefined && bearer !== xApiKey) throw new TollgateError('ambiguous_api_key');
  if (auth !== undefined && authorizationsDiffer(rawHeaders, bearer)) throw new TollgateError('ambiguous_api_key');
  return bearer ?? xApiKey;
}

function bearerOf(auth: string): string | undefined {
  return auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ' ? auth.slice(7).trim() : undefined;
}

/** The key of `x-api-key` headers Node joined (`joined`): the same in each, or the 401 `ambiguous_api_key`. */
function oneXApiKey(joined: string, rawHeaders: readonly string[]): string {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === 'x-api-key') values.push(rawHeaders[i + 1].trim());
  // One header whose key holds a comma is that key.
  if (values.length < 2) return joined.trim();
  if (values.some((v) => v !== values[0])) throw new TollgateError('ambiguous_api_key');
  return values[0];
}

/** Whether an `Authorization` header in `rawHeaders` (name, value, name, value, ...) names another key than `bearer`. */
function authorizationsDiffer(rawHeaders: readonly string[], bearer: string | undefined): boolean {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    // Most clients send the name in lower case: compared as is, it costs no new string.
    if (name.length !== 13 || (name !== 'authorization' && name.toLowerCase() !== 'authorization')) continue;
    if (++seen > 1 && bearerOf(rawHeaders[i + 1]) !== bearer) return true;
  }
  return false;
}
