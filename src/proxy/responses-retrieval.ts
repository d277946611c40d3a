// The Responses API's retrieval endpoints: GET /v1/responses/{id} (with `?stream=true` it resumes the
// response's events, passed through as they arrive), DELETE /v1/responses/{id}, POST
// /v1/responses/{id}/cancel and GET /v1/responses/{id}/input_items. They consume no tokens: nothing is
// reserved and no ledger row is written, but each counts against the caller's request-rate limits, and
// each the provider answers is counted on /metrics (tollgate_requests_total, with no model). Each
// goes, with that provider's own key, to the provider that holds the response, and only for the project
// that created it (response-owners.ts); any other id gets OpenAI's 404 for an id it does not have.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TollgateError } from '../errors/tollgate-error.js';
import type { RetrievalRequest, UpstreamResponse } from '../providers/provider.js';
import type { Caller } from './request-context.js';
import { callersResponse } from './response-owners.js';
import { drained } from './stream-relay.js';
import { credentialsRefused, readAll, upstreamFailure } from './upstream-failure.js';

export type RetrievalOperation = 'retrieve' | 'delete' | 'cancel' | 'input_items';

/** Each operation's route (`:id` the response id) and upstream method and path after the id. */
export const RETRIEVAL_ROUTES: ReadonlyArray<{ operation: RetrievalOperation; method: RetrievalRequest['method']; url: string; suffix: string }> = [
  { operation: 'retrieve', method: 'GET', url: '/v1/responses/:id', suffix: '' },
  { operation: 'delete', method: 'DELETE', url: '/v1/responses/:id', suffix: '' },
  { operation: 'cancel', method: 'POST', url: '/v1/responses/:id/cancel', suffix: '/cancel' },
  { operation: 'input_items', method: 'GET', url: '/v1/responses/:id/input_items', suffix: '/input_items' },
];

/** Serves one retrieval request for the response named in the path. */
export async function handleRetrieval(
  { gw, principal }: Caller,
  route: (typeof RETRIEVAL_ROUTES)[number],
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
): Promise<void> {
  const id = req.params.id;
  // Counted before the owner is looked up: a key guessing ids is held to its rate like any other caller.
  void reply.headers(await gw.engine.admitRequestOnly(req.id, principal));
  const owner = await callersResponse(gw, principal, id);
  const provider = gw.providers.get(owner.provider);
  // Its provider was removed from the config since: nothing can serve the id any more.
  if (!provider?.retrieve || !provider.supports('responses')) throw new TollgateError('response_not_found', { id });

  // A client that leaves stops the upstream call (a resumed stream may run for minutes).
  const abort = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  const timeoutMs = gw.policy.providers.get(provider.name)?.timeoutMs;
  let upstream: UpstreamResponse;
  // Every retrieval the provider answers is counted (metrics); the gateway's own refusals are counted as rejections.
  const answered = (status: number): void => gw.emitTokenFreeRequest({ principal, status });
  try {
    upstream = await provider.retrieve({ method: route.method, path: `/responses/${encodeURIComponent(id)}${route.suffix}`, query: queryOf(req.url), signal: abort.signal, requestId: req.id });
  } catch (err) {
    if (abort.signal.aborted) return answered(499);
    throw upstreamFailure(provider.name, err, timeoutMs);
  }
  // Those concern the gateway's provider key, not the caller's: a 502, as on the other endpoints.
  if (upstream.status === 401 || upstream.status === 403) {
    await readAll(upstream.body).catch(() => undefined);
    throw credentialsRefused(provider.name, upstream.status);
  }
  if (!(upstream.headers['content-type'] ?? '').includes('text/event-stream')) {
    const raw = await readAll(upstream.body).catch((err: unknown) => {
      throw upstreamFailure(provider.name, err, timeoutMs);
    });
    // Read before sending: a client that left before its answer came did not receive this status.
    const status = reply.raw.destroyed ? 499 : upstream.status;
    void reply.code(upstream.status).headers(upstream.headers).send(raw);
    return answered(status);
  }
  // As a call's stream is recorded (pipeline.ts): 499 when the client left, 502 when the provider cut it.
  const end = await passThrough(upstream, reply, abort.signal);
  answered(end === 'client_gone' ? 499 : end === 'upstream_failed' ? 502 : upstream.status);
}

/** Writes an event stream to the client as it arrives; a stream the provider cuts is cut for the client too. */
async function passThrough(upstream: UpstreamResponse, reply: FastifyReply, clientGone: AbortSignal): Promise<'complete' | 'client_gone' | 'upstream_failed'> {
  void reply.hijack();
  const res = reply.raw;
  res.writeHead(upstream.status, { ...(reply.getHeaders() as Record<string, string>), ...upstream.headers, 'cache-control': 'no-cache' });
  try {
    for await (const chunk of upstream.body) {
      if (!res.write(chunk) && !res.destroyed) await drained(res);
      if (clientGone.aborted) return 'client_gone';
    }
  } catch {
    if (clientGone.aborted) return 'client_gone';
    // Ended without its last event: the client must not take the cut for the end.
    if (!res.destroyed) res.destroy();
    return 'upstream_failed';
  }
  if (res.destroyed) return 'client_gone';
  res.end();
  return 'complete';
}

/** The request's query string without its `?` ('' when none), passed on as it came. */
function queryOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? '' : url.slice(q + 1);
}
