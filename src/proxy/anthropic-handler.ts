// The Anthropic-format endpoints: `POST /v1/messages` (the shared pipeline) and `/v1/messages/count_tokens`.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { invalidRequest } from '../errors/tollgate-error.js';
import { withErrorRequestId } from '../providers/anthropic/index.js';
import { RATE_LIMIT_HEADER } from '../providers/provider.js';
import { estimateInput } from '../tokens/index.js';
import { forwardedAnthropicHeaders } from './anthropic-exchange.js';
import { anthropicRateLimitHeaders } from './anthropic-headers.js';
import { handleCall } from './pipeline.js';
import { resolveTarget, type Caller } from './request-context.js';
import { validateAnthropicMessages, validateAnthropicModel, type JsonObject } from './request-shape.js';
import { endpointNotSupported } from './exchange.js';
import { credentialsRefused, notJsonAnswer, readAll, looksLikeJsonObject, upstreamFailure } from './upstream-failure.js';

/** Handles `POST /v1/messages`. */
export function handleMessages(caller: Caller, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  return handleCall(caller, 'messages', req, reply);
}

/**
 * Handles `POST /v1/messages/count_tokens`: free of tokens and of ledger rows, but each counts against the
 * caller's request-rate limits, as Anthropic holds it to a requests-per-minute limit (otherwise any key
 * could use the gateway's provider key without limit). Forwarded to providers that count; answered with
 * the gateway's own (conservative) estimate for those that do not. Each answered one is counted on /metrics
 * (tollgate_requests_total, with no model), as the Responses API's retrievals are.
 */
export async function handleCountTokens({ gw, principal }: Caller, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const requestId = req.id;
  const body = req.body as JsonObject;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidRequest('The request body must be a JSON object.');
  validateAnthropicModel(body);
  validateAnthropicMessages(body);
  const target = resolveTarget(gw, principal, body.model, 'messages');
  const upstreamModel = target.model.upstreamModel;
  const provider = gw.providers.get(target.model.provider)!;
  // Counted only for models /v1/messages serves: a count for a model it then refuses would mislead.
  if (!provider.supports('messages')) throw endpointNotSupported('messages', body.model, provider);
  // Counted once the request is known to be valid: bad input costs the caller none of its rate.
  void reply.headers(await gw.engine.admitRequestOnly(requestId, principal, anthropicRateLimitHeaders));
  const answered = (status: number): void => gw.emitTokenFreeRequest({ principal, status });
  if (!provider.supports('count_tokens')) {
    void reply.send({ input_tokens: estimateInput('messages', body, upstreamModel).exact() });
    return answered(200);
  }
  let raw: Buffer;
  let status: number;
  let headers: Record<string, string>;
  try {
    const upstream = await provider.send({ endpoint: 'count_tokens', body: { ...body, model: upstreamModel }, stream: false, requestId, headers: forwardedAnthropicHeaders(req.headers) });
    raw = await readAll(upstream.body);
    ({ status, headers } = upstream);
  } catch (err) {
    throw upstreamFailure(provider.name, err, gw.policy.providers.get(provider.name)?.timeoutMs);
  }
  if (status === 401 || status === 403) throw credentialsRefused(provider.name, status, req.log);
  if (status < 400 && !looksLikeJsonObject(raw)) throw notJsonAnswer(provider.name, status, headers['content-type'], req.log);
  // Refused by the provider's own limit: its rate-limit headers say which, and the gateway's (with room
  // left) would contradict them, or mix with them into a limit, remainder and reset of two different limits.
  if (status === 429) for (const name of Object.keys(reply.getHeaders())) if (RATE_LIMIT_HEADER.test(name)) reply.removeHeader(name);
  // Read before sending: a client that left before its answer came did not receive this status.
  const sent = reply.raw.destroyed ? 499 : status;
  // An error names the gateway's request in its body as in its `request-id` header (error-request-id.ts).
  void reply.code(status).headers(headers).send(status >= 400 ? withErrorRequestId(raw, requestId) : raw);
  answered(sent);
}

