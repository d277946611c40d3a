// One token-free request about an object a provider stores (a Responses API response, a conversation),
// sent with that provider's own key and relayed to the client: JSON as a whole, an event stream (a
// resumed response) as it arrives. Nothing is reserved and no ledger row is written; each request the
// provider answers is counted on /metrics (tollgate_requests_total, with no model).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { Provider, RetrievalRequest, UpstreamResponse } from '../providers/provider.js';
import { isQueryCredential, type SecretMask } from '../providers/secret-mask.js';
import { SseFramer } from '../providers/sse/index.js';
import type { Gateway } from './gateway.js';
import { drained } from './stream-relay.js';
import { credentialsRefused, readAll, upstreamFailure } from './upstream-failure.js';

export interface StoredObjectRequest {
  provider: Provider;
  method: RetrievalRequest['method'];
  /** Relative to the provider's `/v1` base, e.g. `/conversations/conv_123/items`. */
  path: string;
  /** A JSON body to send on, as the client sent it. */
  body?: string;
  /**
   * Sees a JSON answer before the client does (a conversation's creation records its owner then); what
   * it throws is answered instead.
   */
  beforeAnswer?: (status: number, raw: Buffer) => Promise<void>;
}

/** Sends `request` to its provider (with the client's query string) and relays the answer. */
export async function relayStoredObject(gw: Gateway, principal: Principal, req: FastifyRequest, reply: FastifyReply, request: StoredObjectRequest): Promise<void> {
  const { provider } = request;
  // A client that leaves stops the upstream call (a resumed stream may run for minutes).
  const abort = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  const timeoutMs = gw.policy.providers.get(provider.name)?.timeoutMs;
  // Every request the provider answers is counted (metrics); the gateway's own refusals are counted as rejections.
  const answered = (status: number): void => gw.emitTokenFreeRequest({ principal, status });
  let upstream: UpstreamResponse;
  try {
    upstream = await provider.retrieve!({ method: request.method, path: request.path, query: queryOf(req.url), body: request.body, signal: abort.signal, requestId: req.id });
  } catch (err) {
    if (abort.signal.aborted) return answered(499);
    throw upstreamFailure(provider.name, err, timeoutMs);
  }
  // Those concern the gateway's provider key, not the caller's: a 502, as on the other endpoints.
  if (upstream.status === 401 || upstream.status === 403) {
    await readAll(upstream.body).catch(() => undefined);
    throw credentialsRefused(provider.name, upstream.status, req.log);
  }
  if (!(upstream.headers['content-type'] ?? '').includes('text/event-stream')) {
    const raw = await readAll(upstream.body).catch((err: unknown) => {
      throw upstreamFailure(provider.name, err, timeoutMs);
    });
    await request.beforeAnswer?.(upstream.status, raw);
    // Read before sending: a client that left before its answer came did not receive this status.
    const status = reply.raw.destroyed ? 499 : upstream.status;
    // An error answer's secrets are already masked (the provider's pool masks them: upstream-pool.ts); a
    // stored response that failed is a 200 carrying the provider's error, so successful answers are masked
    // here too, as a resumed stream's events are (no call's hot path).
    void reply.code(upstream.status).headers(upstream.headers).send(provider.secrets.bytes(raw));
    return answered(status);
  }
  // As a call's stream is recorded (pipeline.ts): 499 when the client left, 502 when the provider cut it.
  const end = await passThrough(upstream, reply, abort.signal, provider.secrets);
  answered(end === 'client_gone' ? 499 : end === 'upstream_failed' ? 502 : upstream.status);
}

/**
 * Writes an event stream to the client as it arrives; a stream the provider cuts is cut for the client too.
 * Its events are not read one by one, so any of them may be an error quoting the gateway's key: whole
 * events go out, each with the provider's secrets masked (a resumed stream is no call's hot path).
 */
async function passThrough(upstream: UpstreamResponse, reply: FastifyReply, clientGone: AbortSignal, secrets: SecretMask): Promise<'complete' | 'client_gone' | 'upstream_failed'> {
  void reply.hijack();
  const res = reply.raw;
  res.writeHead(upstream.status, { ...(reply.getHeaders() as Record<string, string>), ...secrets.headers(upstream.headers), 'cache-control': 'no-cache' });
  const framer = secrets.empty ? undefined : new SseFramer();
  try {
    for await (const chunk of upstream.body) {
      const out = framer ? wholeEvents(framer, chunk, secrets) : chunk;
      if (out.length > 0 && !res.write(out) && !res.destroyed) await drained(res);
      if (clientGone.aborted) return 'client_gone';
    }
    const rest = framer?.end();
    if (rest && rest.length > 0) res.write(secrets.bytes(Buffer.from(rest)));
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

const NOTHING = Buffer.alloc(0);

/** The events `chunk` completes, with `secrets` masked (an event split across chunks waits for its end). */
function wholeEvents(framer: SseFramer, chunk: Uint8Array, secrets: SecretMask): Buffer {
  const { bytes, ends } = framer.push(chunk);
  return ends.length === 0 ? NOTHING : secrets.bytes(Buffer.from(bytes.buffer, bytes.byteOffset, ends[ends.length - 1]));
}

/**
 * The request's query string without its `?` ('' when none), passed on as it came, without any fragment:
 * Node accepts a `#` in the request target, which no valid one has (RFC 9112 §3.2), and forwarded, the
 * provider (or a proxy before it) would read `?a=1#/../../x` each its own way. A parameter named as a
 * credential (`?api_key=`, `?token=`) stays behind: a client's own key must never go upstream, and none of
 * the provider's retrieval parameters is one.
 */
export function queryOf(url: string): string {
  const hash = url.indexOf('#');
  const target = hash === -1 ? url : url.slice(0, hash);
  const q = target.indexOf('?');
  if (q === -1) return '';
  const query = target.slice(q + 1);
  return query.split('&').filter((pair) => !isQueryCredential(nameOf(pair))).join('&');
}

/** A query pair's name, decoded (a malformed escape: as written). */
function nameOf(pair: string): string {
  const name = pair.split('=', 1)[0]!.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}
