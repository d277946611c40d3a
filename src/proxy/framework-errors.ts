// Requests fastify's router refuses before any hook runs: a path whose `%` is not followed by two hex
// digits (`/v1/models/%ZZ`). fastify's own answer, `{"error":"Bad Request","code":"FST_ERR_BAD_URL",...}`,
// is in neither API's error format, carries no request id and names the framework; this one is the
// endpoint's error, as every other is (Anthropic's under /v1/messages).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { TollgateError } from '../errors/tollgate-error.js';
import { wireOfRequest } from './exchange.js';
import { errorBody } from './error-body.js';
import { requestIdHeaders } from './request-id.js';
import { closeAfterUnreadBody, type LingerLimits } from './unread-body.js';

/** fastify's `frameworkErrors`: `onRejected` is told as for any request refused before it became a call. */
export function frameworkErrorAnswer(
  linger: LingerLimits,
  onRejected: (path: string, status: number, code: string) => void,
  cors: (req: FastifyRequest) => Record<string, string>,
): (error: FastifyError, req: FastifyRequest, reply: FastifyReply) => void {
  return (error, req, reply) => {
    // Answered before fastify's hooks, the CORS one included: its headers are added here. A preflight for
    // such a path is let through, so that the page reads the 400 of the request itself.
    const corsHeaders = cors(req);
    if (req.method === 'OPTIONS' && corsHeaders['access-control-allow-methods'] !== undefined) return void reply.code(204).headers(corsHeaders).send();
    const err = new TollgateError('invalid_request', { detail: whatIsWrong(error, req.url) });
    const wire = wireOfRequest(req);
    closeAfterUnreadBody(req.raw, (name, value) => void reply.header(name, value), linger);
    onRejected('other', err.status, err.code);
    void reply.code(err.status).headers({ ...requestIdHeaders(req.id, wire), ...corsHeaders }).send(errorBody(err, wire, req.id));
  };
}

/** Every `%` followed by two hexadecimal digits. */
const WELL_FORMED_ESCAPES = /^(?:[^%]|%[0-9a-f]{2})*$/i;

function whatIsWrong(error: FastifyError, url: string): string {
  const path = url.split('?')[0];
  if (error.code !== 'FST_ERR_BAD_URL') return `The request path '${path}' could not be read.`;
  // Escapes of two hex digits that do not decode to UTF-8 text (Latin-1's %E9 for é, an overlong %C0%AF).
  if (WELL_FORMED_ESCAPES.test(path)) return `The request path '${path}' is not valid: its '%' escapes must decode to UTF-8 text (é is %C3%A9).`;
  return `The request path '${path}' is not valid: each '%' in it must begin an escape of two hexadecimal digits (such as %2F).`;
}
