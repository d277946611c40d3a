// Admin endpoints take `Authorization: Bearer <server.admin_key>`; only the key's SHA-256 is kept.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { TollgateError } from '../errors/tollgate-error.js';

/** Throws 403 when no admin key is configured, 401 when the request does not carry it. */
export function requireAdmin(adminKeySha256: string | undefined, req: FastifyRequest): void {
  if (!adminKeySha256) throw new TollgateError('admin_disabled');
  if (!bearerMatches(adminKeySha256, req)) throw new TollgateError('admin_key_required');
}

/** Whether the request's `Authorization: Bearer` secret hashes to `sha256Hex`. */
export function bearerMatches(sha256Hex: string, req: FastifyRequest): boolean {
  const auth = req.headers.authorization;
  const presented = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : '';
  // Comparing digests of equal length in constant time: neither the secret nor its length leaks.
  const a = createHash('sha256').update(presented).digest();
  const b = Buffer.from(sha256Hex, 'hex');
  return presented !== '' && a.length === b.length && timingSafeEqual(a, b);
}
