// Requests fastify's router refuses before any hook runs: a path whose `%` is not followed by two hex
// digits (`/v1/models/%ZZ`). fastify's own answer, `{"error":"Bad Request","code":"FST_ERR_BAD_URL",...}`,
// is in neither API's error format, carries no request id and names the framework; this one is the
// endpoint's error, as every other is (Anthropic's under /v1/messages).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { TollgateError } from '../errors/tollgate-error.js';
import { wireOfRequest } from './exchange.js';
import { errorBody } from './pipeline.js';
import { requestIdHeaders } from './request-id.js';
import { closeAfterUnreadBody, type LingerLimits } from './unread-body.js';

/** fastify's `frameworkErrors`: `onRejected` is told as for any request refused before it became a call. */
export function frameworkErrorAnswer(
  linger: LingerLimits,
  onRejected: (path: string, status: number, code: string) => void,
): (error: FastifyError, req: FastifyRequest, reply: FastifyReply) => void {
  return (error, req, reply) => {
    const err = new TollgateError('invalid_request', { detail: whatIsWrong(error, req.url) });
    const wire = wireOfRequest(req);
    closeAfterUnreadBody(req.raw, (name, value) => void reply.header(name, value), linger);
    onRejected('other', err.status, err.code);
    void reply.code(err.status).headers(requestIdHeaders(req.id, wire)).send(errorBody(err, wire, req.id));
  };
}

function whatIsWrong(error: FastifyError, url: string): string {
  const path = url.split('?')[0];
  if (error.code === 'FST_ERR_BAD_URL') return `The request path '${path}' is not valid: each '%' in it must begin an escape of two hexadecimal digits (such as %2F).`;
  return `The request path '${path}' could not be read.`;
}
