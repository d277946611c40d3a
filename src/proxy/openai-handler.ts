// The request pipeline for the OpenAI-format endpoints: auth → route → estimate → reserve → forward → settle.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { presentedKey } from '../auth/key-store.js';
import type { Principal } from '../auth/principal.js';
import { TollgateError } from '../errors/tollgate-error.js';
import type { Admission } from '../limits/engine.js';
import type { Target } from '../routing/route-table.js';
import { countTextTokens, estimateInput, type Endpoint } from '../tokens/index.js';
import type { UpstreamResponse } from '../providers/provider.js';
import type { CallRecord, Gateway } from './gateway.js';
import { applyOutputLimit, requestedOutput, validateBody, type JsonObject } from './request-shape.js';
import { openAIUsage, responseText, type Usage } from './usage.js';
import { relayStream } from './stream-relay.js';
import { newRequestId } from './request-id.js';
import { findUsage } from './find-usage.js';
import { readTags } from './tags.js';

const NO_USAGE: Usage = { input: 0, output: 0, cachedInput: 0, source: 'provider' };
/** Upstream bodies larger than this are not parsed for usage (counted instead). */
const MAX_PARSED_BODY = 64 * 1024 * 1024;

/** Authenticates the caller, or throws the 401 that says what is wrong. */
export function authenticate(gw: Gateway, headers: FastifyRequest['headers']): Principal {
  const key = presentedKey(headers);
  if (!key) throw new TollgateError('missing_api_key');
  const principal = gw.keys.resolve(key);
  if (!principal) throw new TollgateError('invalid_api_key');
  return principal;
}

/** Handles one OpenAI-format call end to end. */
export async function handleOpenAI(gw: Gateway, endpoint: Endpoint, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const startedAtMs = gw.clock.now();
  const t0 = performance.now();
  const requestId = newRequestId();
  void reply.header('x-tollgate-request-id', requestId);

  const principal = authenticate(gw, req.headers);
  const body = req.body;
  validateBody(endpoint, body);
  const tags = readTags(req.headers['x-tollgate-tags'], body.metadata);
  const target = resolveTarget(gw, principal, body.model as string, endpoint);
  const upstreamModel = target.model.upstreamModel;
  const estimate = estimateInput(endpoint, body, upstreamModel);
  const asked = endpoint === 'embeddings' ? 0 : requestedOutput(body);
  const allowance = asked ?? gw.policy.enforcement.defaultMaxTokens;

  const stream = body.stream === true && endpoint !== 'embeddings';
  type Outcome = Omit<CallRecord, 'requestId' | 'startedAtMs' | 'principal' | 'target' | 'endpoint' | 'stream' | 'tags' | 'latencyMs'>;
  const record = (r: Outcome): void => {
    if (gw.hasListeners) gw.emit({ requestId, startedAtMs, principal, target, endpoint, stream, tags, ...r, latencyMs: performance.now() - t0 });
  };

  let admission: Admission;
  try {
    admission = await gw.engine.admit({ id: requestId, principal, target, input: estimate, output: allowance, outputFromClient: asked !== undefined });
  } catch (err) {
    if (err instanceof TollgateError && err.status === 429) {
      record({
        status: 429,
        usage: NO_USAGE,
        reserved: { input: 0, output: 0 },
        limits: [],
        shadowBlocked: [],
        decision: 'blocked',
        blockedBy: err.headers['x-tollgate-limit'],
      });
    }
    throw err;
  }
  void reply.headers(admission.headers);
  if (admission.clamped) void reply.header('x-tollgate-clamped-max-tokens', String(admission.output));
  const shadowBlocked = admission.shadowBlocked.map((l) => l.id);
  // Shadow limits never block; this header (and the call record) is how their would-be effect is seen.
  if (shadowBlocked.length > 0) void reply.header('x-tollgate-shadow-limit', shadowBlocked.join(','));

  const upstreamBody: JsonObject = { ...body, model: upstreamModel };
  // The output allowance is sent upstream whenever it differs from the client's, so the limit holds exactly.
  if (endpoint !== 'embeddings' && asked !== admission.output) applyOutputLimit(upstreamBody, endpoint, admission.output, upstreamModel);
  const streamOptions = body.stream_options as JsonObject | undefined;
  const clientWantsUsage = streamOptions?.include_usage === true;
  if (stream) upstreamBody.stream_options = { ...streamOptions, include_usage: true };

  const settled = {
    reserved: { input: admission.input, output: admission.output },
    limits: admission.limits.map((l) => l.id),
    shadowBlocked,
    decision: admission.clamped ? ('clamped' as const) : ('admitted' as const),
  };
  const refund = async (status: number): Promise<void> => {
    await gw.engine.settle(requestId, { input: 0, output: 0, request: 0 });
    record({ ...settled, status, usage: NO_USAGE, decision: 'failed' });
  };

  // A client leaving a stream stops the upstream call (the response closes before it finished). A
  // non-streamed call runs to completion instead: the provider bills it anyway, so it is settled exactly.
  const abort = stream ? new AbortController() : undefined;
  if (abort) {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
  }
  const provider = gw.providers.get(target.model.provider)!;
  const tUpstream = performance.now();
  let upstream: UpstreamResponse;
  try {
    upstream = await provider.send({ endpoint, body: upstreamBody, stream, signal: abort?.signal, requestId });
  } catch (err) {
    // Nothing was delivered, so nothing is charged; a client that already left needs no answer.
    if (abort?.signal.aborted) return refund(499);
    await refund(502);
    throw upstreamFailure(provider.name, err, gw.policy.providers.get(provider.name)?.timeoutMs);
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
      return sendUpstreamError(reply, provider.name, upstream, raw);
    }
    const usage = usageOfBody(raw, estimate.exact, upstreamModel);
    await gw.engine.settle(requestId, { input: usage.input, output: usage.output, request: 1 });
    record({ ...settled, status: upstream.status, usage, upstreamLatencyMs });
    void reply.code(upstream.status).headers(upstream.headers);
    return reply.send(raw);
  }

  // Streaming: take over the raw response so chunks go out as they arrive.
  void reply.hijack();
  const res = reply.raw;
  res.writeHead(upstream.status, {
    ...(reply.getHeaders() as Record<string, string>),
    ...upstream.headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  const result = await relayStream(upstream.body, res, {
    clientWantsUsage,
    countModel: upstreamModel,
    inputFallback: estimate.exact,
  });
  // A client that left is charged for what the provider produced before the abort.
  await gw.engine.settle(requestId, { input: result.usage.input, output: result.usage.output, request: 1 });
  const status = result.outcome === 'client_gone' ? 499 : result.outcome === 'upstream_failed' ? 502 : upstream.status;
  record({ ...settled, status, usage: result.usage, upstreamLatencyMs: performance.now() - tUpstream });
}

function resolveTarget(gw: Gateway, principal: Principal, model: string, endpoint: Endpoint): Target {
  const target = gw.routes.resolve(principal, model, endpoint === 'embeddings' ? 'embedding' : 'chat');
  if (target) return target;
  const kind = endpoint === 'embeddings' ? 'embedding' : 'chat';
  const available = gw.routes
    .modelsFor(principal)
    .filter((t) => t.model.kind === kind)
    .map((t) => t.qualifiedName)
    .join(', ');
  throw new TollgateError('model_not_found', { model, available });
}

function usageOfBody(raw: Buffer, exactInput: () => number, model: string): Usage {
  const reported = openAIUsage(findUsage(raw));
  if (reported) return reported;
  // No usage reported: count the generated text ourselves.
  const parsed = raw.length <= MAX_PARSED_BODY ? safeJson(raw) : undefined;
  const text = parsed ? responseText(parsed) : raw.toString('utf8');
  return { input: exactInput(), output: countTextTokens(text, model), cachedInput: 0, source: 'estimated' };
}

function safeJson(raw: Buffer): JsonObject | undefined {
  try {
    const v = JSON.parse(raw.toString('utf8'));
    return typeof v === 'object' && v !== null ? (v as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  return chunks.length === 1 ? Buffer.from(chunks[0].buffer, chunks[0].byteOffset, chunks[0].byteLength) : Buffer.concat(chunks);
}

function upstreamFailure(provider: string, err: unknown, timeoutMs?: number): TollgateError {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return new TollgateError('upstream_timeout', { provider, timeoutMs });
  return new TollgateError('upstream_error', { provider, detail: code || (err as Error).message });
}

/**
 * Upstream errors pass through in OpenAI's format, except authentication failures: those concern the
 * gateway's provider key, not the caller's, so the caller sees a 502.
 */
function sendUpstreamError(reply: FastifyReply, provider: string, upstream: UpstreamResponse, raw: Buffer): FastifyReply {
  if (upstream.status === 401 || upstream.status === 403) {
    throw new TollgateError('upstream_error', { provider, detail: `the provider refused the gateway's credentials (HTTP ${upstream.status})` });
  }
  void reply.code(upstream.status).headers(upstream.headers);
  return reply.send(raw);
}
