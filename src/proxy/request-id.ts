import { randomBytes } from 'node:crypto';

// A random per-process prefix plus a counter: unique across instances, and cheaper than a UUID per request.
const prefix = randomBytes(6).toString('hex');
let counter = 0;

/** A new request id, e.g. `req_3f9a1c2b7d4e_1a2b`. */
export function newRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `req_${prefix}_${counter.toString(36)}`;
}
