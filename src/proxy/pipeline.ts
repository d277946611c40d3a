// The request pipeline shared by every proxied endpoint: auth → route → estimate → reserve → forward →
// settle → record. What differs per wire format (bodies, usage, stream events, errors) is the Exchange.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import { TollgateError } from '../errors/tollgate-error.js';
import type { AppliedLimit } from '../limits/applicable-limits.js';
import type { Admission } from '../limits/engine.js';
import type { UpstreamResponse } from '../providers/provider.js';
import type { Target } from '../routing/route-table.js';
import { NO_USAGE, type JsonObject, type Usage } from '../providers/usage.js';
import { countTextTokens, estimateInput, type Endpoint } from '../tokens/index.js';
import { StreamTokenCounter } from '../tokens/stream-counter.js';
import { anthropicRateLimitHeaders } from './anthropic-headers.js';
import { clientWire, planExchange, type ClientWire } from './exchange.js';
import type { CallRecord, Gateway } from './gateway.js';
import { authenticate, resolveTarget } from './request-context.js';
import { newRequestId } from './request-id.js';
import { validateBody } from './request-shape.js';
import { relayStream } from './stream-relay.js';
import { readTags } from './tags.js';
import { credentialsRefused, readAll, upstreamFailure } from './upstream-failure.js';

/** What the pipeline decided before the upstream answered: the part of a call's record that outcomes share. */
type Decision = Pick<CallRecord, 'reserved' | 'limits' | 'shadowBlocked' | 'decision' | 'blockedBy'>;
/** What only some outcomes add. */
type Detail = Partial<Pick<CallRecord, 'decision' | 'upstreamLatencyMs' | 'streamEnd'>>;

/** Handles one proxied call end to end, in the client's wire format. */
export async function handleCall(gw: Gateway, endpoint: Endpoint, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const startedAtMs = gw.clock.now();
  const t0 = performance.now();
  const requestId = newRequestId();
  void reply.header('x-tollgate-request-id', requestId);
  const wire = clientWire(endpoint);

  const principal = authenticate(gw, req.headers);
  const body = req.body;
  validateBody(endpoint, body);
  const tags = readTags(req.headers['x-tollgate-tags'], body.metadata);
  const target = resolveTarget(gw, principal, body.model as string, endpoint);
  const upstreamModel = target.model.upstreamModel;
  const provider = gw.providers.get(target.model.provider)!;
  const exchange = planExchange({ endpoint, body, upstreamModel, provider, model: body.model as string, headers: req.headers });
  const estimate = estimateInput(exchange.estimateOn.endpoint, exchange.estimateOn.body, upstreamModel);
  const allowance = exchange.allowance(gw.policy.enforcement.defaultMaxTokens);
  const stream = body.stream === true && endpoint !== 'embeddings';

  // Awaited before the response completes: a strict ledger commits the row first (Gateway.recordSink).
  // One literal with the spreads inside it, never `{ ...decision, status }`: see body-copy.ts.
  const record = async (decision: Decision, status: number, usage: Usage, detail?: Detail): Promise<void> => {
    if (!gw.hasListeners) return;
    await gw.record({ requestId, startedAtMs, principal, target, endpoint, stream, tags, ...decision, status, usage, ...detail, latencyMs: performance.now() - t0 });
  };

  let admission: Admission;
  try {
    admission = await gw.engine.admit({ id: requestId, principal, target, input: estimate, output: allowance.output, outputFromClient: allowance.fromClient });
  } catch (err) {
    // Every refusal by the limits (429, the 400s for a call that can never fit, the fail-closed 503) is a
    // call too: one row, with the limits it was checked against and the one that refused it when known.
    if (err instanceof TollgateError && LIMIT_REFUSALS.has(err.code)) {
      await record(refusal(gw, err, principal, target), err.status, NO_USAGE);
      if (err.status === 429 && wire === 'anthropic') await anthropicRateLimitError(gw, err, principal, target);
    }
    throw err;
  }
  void reply.headers(wire === 'anthropic' ? anthropicRateLimitHeaders(admission.limits, admission.states) : admission.headers);
  if (admission.clamped) void reply.header('x-tollgate-clamped-max-tokens', String(admission.output));
  const shadowBlocked = admission.shadowBlocked.map((l) => l.id);
  // Shadow limits never block; this header (and the call record) is how their would-be effect is seen.
  if (shadowBlocked.length > 0) void reply.header('x-tollgate-shadow-limit', shadowBlocked.join(','));

  const admitted: Decision = {
    reserved: { input: admission.input, output: admission.output },
    limits: gw.engine.applicable.ids(admission.limits),
    shadowBlocked,
    decision: admission.clamped ? 'clamped' : 'admitted',
  };
  const refund = async (status: number, streamEnd?: CallRecord['streamEnd']): Promise<void> => {
    await gw.engine.settle(requestId, { input: 0, output: 0, request: 0 });
    await record(admitted, status, NO_USAGE, streamEnd ? { decision: 'failed', streamEnd } : { decision: 'failed' });
  };

  // A client leaving a stream stops the upstream call (the response closes before it finished). A
  // non-streamed call runs to completion instead: the provider bills it anyway, so it is settled exactly.
  const abort = stream ? new AbortController() : undefined;
  if (abort) {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
  }
  const tUpstream = performance.now();
  let upstream: UpstreamResponse;
  try {
    upstream = await provider.send({
      endpoint: exchange.upstream,
      body: exchange.upstreamBody(admission.output),
      // Re-serializing a large prompt costs more than the rest of the call; unchanged, its bytes are reused.
      ...(req.rawBody !== undefined && exchange.unchanged(admission.output) ? { text: req.rawBody } : {}),
      stream,
      signal: abort?.signal,
      requestId,
      headers: exchange.forwardHeaders,
    });
  } catch (err) {
    // Nothing was delivered, so nothing is charged; a client that already left needs no answer.
    if (abort?.signal.aborted) return refund(499);
    await refund(502);
    throw upstreamFailure(provider.name, err, gw.policy.providers.get(provider.name)?.timeoutMs);
  } finally {
    // The request lives as long as its stream, which may be minutes; the body's text copy is not needed again.
    req.rawBody = undefined;
  }

  const isSse = (upstream.headers['content-type'] ?? '').includes('text/event-stream');
  if (upstream.status >= 400 || !(stream && isSse)) {
    const raw = await readAll(upstream.body).catch(async (err) => {
      await refund(502);
      throw upstreamFailure(provider.name, err);
    });
    const upstreamLatencyMs = performance.now() - tUpstream;
    if (upstream.status >= 400) {
      await refund(upstream.status);
      // Upstream 401/403 concern the gateway's provider key, not the caller's: the caller sees a 502.
      if (upstream.status === 401 || upstream.status === 403) throw credentialsRefused(provider.name, upstream.status);
      return void reply.code(upstream.status).headers(upstream.headers).send(exchange.upstreamError(raw));
    }
    const answer = exchange.response(raw);
    // No usage reported: count the generated text with the model family's tokenizer.
    const usage: Usage = answer.usage ?? { input: estimate.exact(), output: countTextTokens(answer.text(), upstreamModel), cachedInput: 0, source: 'estimated' };
    const sendAnswer = (): void => void reply.code(upstream.status).headers(upstream.headers).send(answer.body);
    // A strict ledger commits the row before the caller has its answer. Otherwise the answer goes first
    // (fastify writes it at once: no onSend hooks are registered); settling and recording (the ledger row,
    // metrics) follow in the same turn of the event loop, so this instance admits nothing before the
    // settlement is applied (memory) or queued for Redis ahead of any later reservation (the Redis store
    // sends its calls in the order they were made).
    const strict = gw.recordSink !== undefined;
    if (!strict) sendAnswer();
    await gw.engine.settle(requestId, { input: usage.input, output: usage.output, request: 1 });
    await record(admitted, upstream.status, usage, { upstreamLatencyMs });
    if (strict) sendAnswer();
    return;
  }

  // Streaming: take over the raw response so frames go out as they arrive.
  void reply.hijack();
  const res = reply.raw;
  res.writeHead(upstream.status, {
    ...(reply.getHeaders() as Record<string, string>),
    ...upstream.headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  const result = await relayStream(upstream.body, res, {
    adapter: exchange.streamAdapter(),
    counter: new StreamTokenCounter(upstreamModel),
    cap: admission.output,
    inputFallback: estimate.exact,
  });
  if (result.outcome === 'cut_at_limit') abort?.abort(); // the relay stopped reading; make sure the provider stops too
  if (result.outcome === 'upstream_failed' && !result.produced) {
    // It failed before doing anything (e.g. an `overloaded_error` event first): nothing is charged.
    await refund(502, 'upstream_failed');
    if (!res.destroyed) res.end();
    return;
  }
  // Settled and recorded before the stream's last byte, so a strict ledger has the row when the client sees the end.
  await gw.engine.settle(requestId, { input: result.usage.input, output: result.usage.output, request: 1 });
  const status = result.outcome === 'client_gone' ? 499 : result.outcome === 'upstream_failed' ? 502 : upstream.status;
  await record(admitted, status, result.usage, { upstreamLatencyMs: performance.now() - tUpstream, streamEnd: result.outcome });
  if (!res.destroyed) res.end();
}

/** The errors by which the limits engine refuses a call (as opposed to a request it could not read). */
const LIMIT_REFUSALS: ReadonlySet<string> = new Set(['rate_limit_exceeded', 'request_over_limit', 'request_over_window', 'output_over_window', 'store_unavailable']);

/** The id under which a project's `request_limit` (the per-call cap) is reported, as `daily_limit` is `project:<id>:daily`. */
function requestLimitId(project: string): string {
  return `project:${project}:request`;
}

/** The record's decision part for a call the limits refused: nothing reserved, every applicable limit listed. */
function refusal(gw: Gateway, err: TollgateError, principal: Principal, target: Target): Decision {
  let applicable: AppliedLimit[] = [];
  try {
    applicable = gw.engine.applicable.for(principal, target);
  } catch {
    // Cannot happen once admit got this far (it resolved the same list); the row then lists no limits.
  }
  let limits = gw.engine.applicable.ids(applicable);
  const blockedBy = blockingLimit(err, applicable, principal);
  // The per-call cap is checked without being one of the counted limits; the row still names it.
  if (blockedBy !== undefined && !limits.includes(blockedBy)) limits = [...limits, blockedBy];
  return { reserved: { input: 0, output: 0 }, limits, shadowBlocked: [], decision: 'blocked', blockedBy };
}

/** The id of the limit that refused the call, when one did (a store outage is no limit's doing). */
function blockingLimit(err: TollgateError, applicable: AppliedLimit[], principal: Principal): string | undefined {
  const named = err.headers['x-tollgate-limit'];
  if (named) return named;
  if (err.code === 'request_over_limit') return principal.project ? requestLimitId(principal.project) : undefined;
  if (err.code === 'request_over_window' || err.code === 'output_over_window') return applicable.find((l) => l.label === err.params.label)?.id;
  return undefined;
}

/** Gives a 429 on the Anthropic endpoint Anthropic's own rate-limit headers (one extra read of the counters). */
async function anthropicRateLimitError(gw: Gateway, err: TollgateError, principal: Principal, target: Target): Promise<void> {
  for (const name of Object.keys(err.headers)) if (name.startsWith('x-ratelimit-')) delete err.headers[name];
  try {
    const limits = gw.engine.applicable.for(principal, target);
    const states = await gw.engine.store.peek(limits.map((l) => l.item));
    Object.assign(err.headers, anthropicRateLimitHeaders(limits, states));
  } catch {
    // The 429 stands without the extra headers; retry-after is already set.
  }
}

/** The error body for a failure on an endpoint of wire `wire`. */
export function errorBody(err: TollgateError, wire: ClientWire): JsonObject {
  return (wire === 'anthropic' ? err.toAnthropic() : err.toOpenAI()) as unknown as JsonObject;
}
