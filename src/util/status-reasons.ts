// Node writes a status its table lacks with the reason phrase "unknown" ("HTTP/1.1 529 unknown"). Anthropic's
// 529 (`overloaded_error`, which the gateway passes on from an upstream) is "Overloaded" in Anthropic's docs.
import { STATUS_CODES } from 'node:http';

/**
 * Names the non-standard statuses the gateway answers with in Node's status table, which every response's
 * status line is written from (fastify's and raw `writeHead` alike): no per-response cost. Idempotent.
 */
export function nameNonStandardStatuses(): void {
  STATUS_CODES[529] ??= 'Overloaded';
}
