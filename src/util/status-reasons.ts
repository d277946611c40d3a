// Node writes a status its table lacks with the reason phrase "unknown" ("HTTP/1.1 529 unknown"). The
// gateway passes upstream errors on with their status, and some are not in Node's table: Anthropic's 529
// (`overloaded_error`, "Overloaded" in Anthropic's docs), and Cloudflare's 52x, which OpenAI's API and
// many OpenAI-compatible servers behind Cloudflare answer when the origin fails.
import { STATUS_CODES } from 'node:http';

/** The reason phrases of the statuses above, as their owners' docs name them. */
const NON_STANDARD: Readonly<Record<number, string>> = {
  520: 'Web Server Returned an Unknown Error',
  521: 'Web Server Is Down',
  522: 'Connection Timed Out',
  523: 'Origin Is Unreachable',
  524: 'A Timeout Occurred',
  525: 'SSL Handshake Failed',
  526: 'Invalid SSL Certificate',
  529: 'Overloaded',
};

/**
 * Names the non-standard statuses the gateway answers with in Node's status table, which every response's
 * status line is written from (fastify's and raw `writeHead` alike): no per-response cost. Idempotent.
 */
export function nameNonStandardStatuses(): void {
  for (const [status, reason] of Object.entries(NON_STANDARD)) STATUS_CODES[status] ??= reason;
}
