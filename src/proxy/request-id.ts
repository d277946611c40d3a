import { randomBytes } from 'node:crypto';
import type { ClientWire } from './exchange.js';

// A random per-process prefix plus a counter: unique across instances, and cheaper than a UUID per request.
const prefix = randomBytes(6).toString('hex');
let counter = 0;

/** A new request id, e.g. `req_3f9a1c2b7d4e_1a2b`. */
export function newRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `req_${prefix}_${counter.toString(36)}`;
}

/**
 * The response headers naming a request: `x-tollgate-request-id` always, and the provider's own header
 * for the client's wire format (`x-request-id` for OpenAI, `request-id` for Anthropic), which the
 * official SDKs expose. The provider's id for the upstream call is passed as `x-upstream-request-id`.
 */
export function requestIdHeaders(requestId: string, wire: ClientWire): Record<string, string> {
  return wire === 'anthropic'
    ? { 'x-tollgate-request-id': requestId, 'request-id': requestId }
    : { 'x-tollgate-request-id': requestId, 'x-request-id': requestId };
}
