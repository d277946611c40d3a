// The HTTP server: routes, body parsing and the one place errors become wire-format responses.
import { isUtf8 } from 'node:buffer';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { TollgateError } from '../errors/tollgate-error.js';
import { bodyLimitFor, largestBodyLimit } from './body-limits.js';
import { OPENAI_ENDPOINTS } from './endpoint-paths.js';
import type { Gateway } from './gateway.js';
import { handleCall } from './pipeline.js';
import { handleCountTokens, handleMessages } from './anthropic-handler.js';
import { wireOfRequest } from './exchange.js';
import { errorBody } from './error-body.js';
import { listModels, retrieveModel } from './models-endpoint.js';
import { newRequestId, requestIdHeaders } from './request-id.js';
import { clientErrorAnswer, connectAnswer } from './client-errors.js';
import { frameworkErrorAnswer } from './framework-errors.js';
import { decodeBody } from './content-encoding.js';
import { isTooDeep, tooDeep } from './upstream-failure.js';
import { lostDuplicateKeys, MAX_JSON_CONTAINERS, MAX_JSON_KEYS, scanJson } from './json-containers.js';
import { authenticate, type Caller } from './request-context.js';
import { closeAfterUnreadBody, LINGER_LIMITS, type LingerLimits } from './unread-body.js';
import { CONVERSATION_ROUTES, handleConversation } from './conversations.js';
import { handleRetrieval, RETRIEVAL_ROUTES } from './responses-retrieval.js';
import { nameNonStandardStatuses } from '../util/status-reasons.js';
import { DrainState } from './drain-state.js';
import { corsHeadersFor, registerCors, type CorsAsk } from './cors.js';
import { cutStalledReaders, STALLED_READER_MS } from './stalled-readers.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body's text as received (JSON bodies only). */
    rawBody?: string;
    /** Set once the pipeline has recorded this request as a call (a ledger row), refused or not. */
    callRecorded?: boolean;
    /** Who calls, with the gateway (config) they were authenticated against: set before the body is read. */
    caller?: Caller;
    /** An admin route's onRequest found the admin key (admin/key-routes.ts): its JSON body is parsed. */
    adminVerified?: boolean;
    /**
     * performance.now() when the gateway's own work on the request began: its arrival, then again once the
     * whole body has arrived. A rejection is timed from here: the client's upload is not the gateway's time.
     */
    workStartedAt: number;
  }
  interface FastifyContextConfig {
    /** The route reads no body (the Responses API's retrieval endpoints): whatever is sent is not parsed. */
    ignoresBody?: boolean;
  }
}

/** The default for `ServerOptions.requestTimeoutMs`: a 10 MB body still arrives at 170 KB/s (the largest, 80 MiB, needs 1.4 MB/s). */
export const REQUEST_TIMEOUT_MS = 60_000;


/** A request answered with an error before it became a call (metrics count it apart from calls). */
export interface Rejection {
  path: string;
  status: number;
  code: string;
  seconds: number;
  /** A limit's refusal: the limit (its `x-tollgate-limit` id) and whose it is. */
  limit?: string;
  organization?: string;
}

export interface ServerOptions {
  /** Returns the gateway to use for each request, so a config reload swaps it without a restart. */
  gateway: () => Gateway;
  /** `server.max_body_bytes`: the body limit of every endpoint; each provider's own limit on its endpoints when undefined (body-limits.ts). */
  maxBodyBytes: number | undefined;
  /** How long a request (headers and body) may take to arrive; a client that stops sending gets a 408. */
  requestTimeoutMs?: number;
  /** How long a response may wait on a client that reads none of it before it is cut (stalled-readers.ts). */
  stalledReaderMs?: number;
  /** Where warnings and errors go; silent when omitted. */
  logger?: Logger;
  /** Extra routes (admin API, metrics), registered beside the proxy endpoints. */
  routes?: Array<(app: FastifyInstance) => void>;
  /**
   * Told of each request answered with an error before it became a call (no ledger row): unreadable or
   * invalid bodies, missing or unknown keys, unknown models or paths. `path` is the route's, or `other`.
   * `seconds`: the time the gateway took to answer, from the arrival of the body (or of the request, when
   * the body was never read): what the client uploaded meanwhile is not the gateway's time.
   */
  onRejected?: (rejection: Rejection) => void;
  /** How long and how much of an unwanted body is read after an early answer (unread-body.ts); tests shorten it. */
  lingerLimits?: LingerLimits;
  /** Set when the process stops (stop-gateway.ts); never draining when omitted. */
  drain?: DrainState;
}

// RFC 9110 §10.1.1, as Node matches it.
const EXPECT_CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;
/** A Transfer-Encoding list ending in chunked with another coding before it (`gzip, chunked`). */
const CODING_BEFORE_CHUNKED = /,\s*chunked\s*$/i;

/** Builds the fastify app (not yet listening). */
export function buildServer(opts: ServerOptions): FastifyInstance {
  nameNonStandardStatuses();
  const requestTimeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const linger = opts.lingerLimits ?? LINGER_LIMITS;
  const drain = opts.drain ?? new DrainState();
  // For answers written before fastify's hooks run (the CORS hook's own headers); none without origins.
  const corsOf = (ask: CorsAsk): Record<string, string> => corsHeadersFor(opts.gateway().policy.server.corsOrigins, ask);
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    bodyLimit: largestBodyLimit(opts.maxBodyBytes),
    // Per-request log lines cost more CPU than the rest of the hot path; calls are recorded by the ledger instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Once the listener is closed (the drain after SIGTERM), a request that still arrives on an open
    // keep-alive connection is served like any other (fastify adds `Connection: close`), not answered
    // with fastify's own 503 body, which is in neither API's error format: it is work the gateway can do.
    return503OnClosing: false,
    keepAliveTimeout: 75_000,
    // fastify's default is no limit, so a client that sends half a body (or half its headers: no key is
    // needed for that) would hold its connection forever. Node 20 only enforces a limit given to the server's
    // constructor (hence `http`), checked on a timer of connectionsCheckingInterval.
    requestTimeout: requestTimeoutMs,
    // Node's own refusal of an HTTP/1.1 request without Host is a 400 with no body: the `onRequest` hook below
    // refuses it instead, in the API's format.
    http: { requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, Math.max(50, requestTimeoutMs / 4)), requireHostHeader: false },
    clientErrorHandler: clientErrorAnswer(requestTimeoutMs, corsOf),
    frameworkErrors: frameworkErrorAnswer(linger, (path, status, code) => opts.onRejected?.({ path, status, code, seconds: 0 }), corsOf),
    // The gateway's own id for every request, whatever the client sent: the ledger row's request_id.
    requestIdHeader: false,
    genReqId: newRequestId,
    // Response ids in paths (/v1/responses/{id}) run past the default 100 characters on some OpenAI-compatible
    // servers. Any length the 16 KB of headers let through goes to the handlers, which answer an id no project
    // created as the API does (a 404); past the router's limit, fastify answered its own 414 instead.
    routerOptions: { maxParamLength: 16 * 1024 },
  });

  // Set first, so every answer carries it, errors raised before a handler runs (bad JSON, a body too
  // large) included, under the header the client's SDK reads (`_request_id`, `requestID`).
  app.addHook('onRequest', (req, reply, done) => {
    req.workStartedAt = performance.now();
    void reply.headers(requestIdHeaders(req.id, wireOfRequest(req)));
    // Draining: the answer says `Connection: close` and the connection ends with it, so a keep-alive client
    // opens its next one through the load balancer, to another instance. Node's own flag, so streams
    // written with writeHead get it too.
    if (drain.draining) reply.raw.shouldKeepAlive = false;
    // RFC 9112 §3.2 (Node's check, turned off above so that the answer is in the API's format and names the request).
    if (req.raw.httpVersionMajor === 1 && req.raw.httpVersionMinor === 1 && req.headers.host === undefined) {
      return done(new TollgateError('malformed_http', { detail: 'an HTTP/1.1 request must carry a Host header' }));
    }
    // Node takes the chunks off `gzip, chunked` and hands on the still-compressed bytes, which were then
    // parsed as JSON. (Node refuses a last coding other than chunked itself: malformed_http.) RFC 9112 §6.1
    // suggests a 501 for a transfer coding not understood; a 400 says it is the request to change, where a
    // 5xx would be retried by the SDKs (and be an Anthropic `api_error`).
    const transfer = req.headers['transfer-encoding'];
    if (transfer !== undefined && CODING_BEFORE_CHUNKED.test(transfer)) {
      return done(new TollgateError('unsupported_transfer_coding', { encoding: transfer }));
    }
    done();
  });
  // After the request ids, before `identify`: a preflight carries no key, and every answer to an allowed
  // origin (a 401, a 429, a stream written with writeHead) carries the CORS headers. Off by default, at no cost.
  if (opts.gateway().policy.server.corsOrigins.length > 0) registerCors(app as unknown as FastifyInstance, () => opts.gateway().policy.server.corsOrigins);

  // An unknown path, or a served one with another method, is answered before its body is read: fastify
  // would read it whole for the not-found handler (answering a 413 for one over the limit, and never the
  // `Expect: 100-continue` of a client waiting to send it). After the CORS hook, so the answer carries it.
  const notFound = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = req.url.split('?')[0];
    // A path the gateway serves, with another method: a 405 naming the methods it takes (RFC 9110 §15.5.6).
    const allowed = ROUTE_METHODS.filter((m) => m !== req.method && app.findRoute({ method: m, url: path }) !== null);
    const err = allowed.length > 0 ? new TollgateError('method_not_allowed', { method: req.method, path, allowed: allowed.join(' or ') }) : new TollgateError('not_found', { method: req.method, path });
    if (allowed.length > 0) void reply.header('allow', allowed.join(', '));
    closeAfterUnreadBody(req.raw, (name, value) => void reply.header(name, value), linger);
    opts.onRejected?.({ path: 'other', status: err.status, code: err.code, seconds: rejectionSeconds(req) });
    return reply.code(err.status).send(errorBody(err, wireOfRequest(req), req.id));
  };
  app.addHook('onRequest', (req, reply, done) => {
    if (req.is404) notFound(req, reply);
    else done();
  });

  // Node answers `Expect: 100-continue` with a 100 before any check unless it is told otherwise; then a
  // client with a bad key or a body over the limit uploads it all for nothing. `identify` sends the 100
  // once the key is good and the body is wanted; otherwise the final answer goes instead, unsent body and all.
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));
  // Any other expectation is ignored, as nginx does (RFC 9110 §10.1.1 allows it): Node's own answer was a 417
  // with an empty body, in neither API's format, to clients that would be served without the header.
  app.server.on('checkExpectation', (req, res) => app.server.emit('request', req, res));
  app.server.on('connect', connectAnswer);
  cutStalledReaders(app.server, opts.stalledReaderMs ?? STALLED_READER_MS);

  app.removeContentTypeParser('application/json');
  // Fastify reads text/plain as a string by default: a JSON body sent so (browsers' fetch without a content
  // type) would be refused as "not a JSON object". It gets the same answer as any other non-JSON type.
  app.removeContentTypeParser('text/plain');
  // The body's text is kept beside its value: a call that needs no rewriting forwards it as it came.
  app.decorateRequest('rawBody', undefined);
  app.decorateRequest('callRecorded', false);
  app.decorateRequest('caller', undefined);
  app.decorateRequest('adminVerified', false);
  app.decorateRequest('workStartedAt', 0);
  // The key is checked from the headers alone, before the body is read: a request without a valid key
  // costs no inflating and no parsing. The gateway is taken once, so a reload mid-request cannot
  // answer with another config than the one that let the caller in.
  const identify = (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    try {
      const gw = opts.gateway();
      req.caller = { gw, principal: authenticate(gw, req.headers, req.raw.rawHeaders) };
      // Until the response is over (streams included): a reload retires this gateway only then.
      gw.enter();
      reply.raw.once('close', () => gw.leave());
      const expect = req.headers.expect;
      if (expect !== undefined && EXPECT_CONTINUE.test(expect) && wantsBody(req)) reply.raw.writeContinue();
      done();
    } catch (err) {
      // Closed after the 401: the body is not read (what arrives meanwhile is dropped).
      closeAfterUnreadBody(req.raw, (name, value) => void reply.header(name, value), linger);
      done(err as Error);
    }
  };
  const parseJson = (req: FastifyRequest, bytes: Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    // JSON is UTF-8 (RFC 8259 §8.1). Decoding other bytes would replace them with U+FFFD: a prompt changed
    // silently, and billed. isUtf8 is a vectorized check, far cheaper than the parse.
    // A leading byte order mark (Windows tools write one) is dropped, as RFC 8259 §8.1 lets a parser do and as
    // fastify's own JSON parser and Python's json.loads(bytes) do: the body goes on without it.
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    if (!isUtf8(bytes)) return done(new TollgateError('invalid_json', { detail: 'the body is not valid UTF-8' }), undefined);
    const scan = scanJson(bytes, MAX_JSON_CONTAINERS, MAX_JSON_KEYS);
    if (scan.over === 'containers') {
      return done(new TollgateError('invalid_request', { detail: `The JSON body holds more than ${MAX_JSON_CONTAINERS} objects and arrays, more than any API request needs.` }), undefined);
    }
    if (scan.over === 'keys') {
      return done(new TollgateError('invalid_request', { detail: `The JSON body holds more than ${MAX_JSON_KEYS} object keys, more than any API request needs.` }), undefined);
    }
    const text = bytes.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done(new TollgateError('invalid_json', { detail: (err as Error).message }), undefined);
    }
    // A key written twice in one object: JSON.parse keeps the last, and the limits, the routing and the
    // estimate read that; an upstream whose parser keeps the first (or refuses) must not be handed the
    // text it would read otherwise (`{"max_tokens":100000,"max_tokens":5}`). What goes on is what was read.
    if (lostDuplicateKeys(value, scan.members)) {
      try {
        req.rawBody = JSON.stringify(value);
      } catch (err) {
        return done(isTooDeep(err) ? tooDeep() : (err as Error), undefined);
      }
    } else req.rawBody = text;
    done(null, value);
  };
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, bytes, done) => {
    // Only the proxied endpoints read a body, and only once `identify` let the caller in. Any other request
    // (an unknown path, OPTIONS or DELETE on a known one) is answered without inflating or parsing what it
    // sent: otherwise anyone, without a key, could make the gateway inflate 30 KB of gzip into 10 MB of JSON
    // and parse it, per request, only to be told 404.
    // A POST .../cancel some clients send with a JSON content type and no body reads nothing either.
    // The admin API's key routes read theirs once the admin key is checked (adminVerified).
    if ((req.caller === undefined && !req.adminVerified) || req.routeOptions.config.ignoresBody === true) return done(null, undefined);
    // An admin POST whose action takes no fields (a rotation) may come with the JSON type and no body.
    if (req.adminVerified && (bytes as Buffer).length === 0) return done(null, undefined);
    req.workStartedAt = performance.now();
    const encoding = req.headers['content-encoding'];
    if (encoding === undefined) return parseJson(req, bytes as Buffer, done);
    decodeBody(bytes as Buffer, encoding, req.routeOptions.bodyLimit, (err, body) => (err ? done(err, undefined) : parseJson(req, body!, done)));
  });

  // Load balancers' health checks take a draining instance out of rotation while it still serves.
  app.get('/healthz', async (req, reply) => (drain.draining ? reply.code(503).send({ status: 'draining' }) : { status: 'ok' }));
  for (const register of opts.routes ?? []) register(app as unknown as FastifyInstance);
  // Each endpoint holds bodies to its provider's limit (body-limits.ts); a body over it is refused unread.
  const openAILimit = bodyLimitFor('openai', opts.maxBodyBytes);
  const anthropicLimit = bodyLimitFor('anthropic', opts.maxBodyBytes);
  for (const [path, endpoint] of OPENAI_ENDPOINTS) {
    app.post(path, { onRequest: identify, bodyLimit: openAILimit }, (req, reply) => handleCall(req.caller!, endpoint, req, reply));
  }
  for (const route of RETRIEVAL_ROUTES) {
    app.route<{ Params: { id: string } }>({
      method: route.method,
      url: route.url,
      onRequest: identify,
      config: { ignoresBody: true },
      // A HEAD would fetch the response from the provider only to drop it.
      exposeHeadRoute: false,
      handler: (req, reply) => handleRetrieval(req.caller!, route, req, reply),
    });
  }
  for (const route of CONVERSATION_ROUTES) {
    app.route<{ Params: { id?: string; item_id?: string } }>({
      method: route.method,
      url: route.url,
      onRequest: identify,
      config: { ignoresBody: !route.body },
      bodyLimit: openAILimit,
      exposeHeadRoute: false,
      handler: (req, reply) => handleConversation(req.caller!, route, req, reply),
    });
  }
  app.post('/v1/messages', { onRequest: identify, bodyLimit: anthropicLimit }, (req, reply) => handleMessages(req.caller!, req, reply));
  app.post('/v1/messages/count_tokens', { onRequest: identify, bodyLimit: anthropicLimit }, (req, reply) => handleCountTokens(req.caller!, req, reply));
  app.get('/v1/models', (req, reply) => listModels(opts.gateway(), req, reply));
  app.get<{ Params: { '*': string } }>('/v1/models/*', (req, reply) => retrieveModel(opts.gateway(), req, reply));

  app.setNotFoundHandler((req, reply) => notFound(req, reply));

  app.setErrorHandler((error: FastifyError | TollgateError, req, reply) => {
    const err = toTollgateError(error, req.id, req.routeOptions.bodyLimit);
    closeAfterUnreadBody(req.raw, (name, value) => void reply.header(name, value), linger);
    if (err.status >= 500 && err.code === 'internal_error') req.log.error({ err: error }, 'unhandled error');
    if (!req.callRecorded) {
      // A limit that refused a request which is no call (a token count, a stored response fetched): its
      // hit is counted here, as a call's is from its ledger row.
      const limit = err.code === 'rate_limit_exceeded' ? err.headers['x-tollgate-limit'] : undefined;
      const organization = req.caller?.principal.organization;
      opts.onRejected?.({ path: req.routeOptions.url ?? 'other', status: err.status, code: err.code, seconds: rejectionSeconds(req), ...(limit && organization ? { limit, organization } : {}) });
    }
    // Each endpoint answers errors in its own provider's format (Anthropic's under /v1/messages).
    return reply.code(err.status).headers(err.headers).send(errorBody(err, wireOfRequest(req), req.id));
  });

  return app as unknown as FastifyInstance;
}

/** The methods the gateway's routes use (HEAD rides along with GET where fastify exposes it). */
const ROUTE_METHODS = ['GET', 'POST', 'DELETE', 'PATCH'];

/** Whether the route reads a body and the one announced fits the route's limit (a larger one is refused unread). */
function wantsBody(req: FastifyRequest): boolean {
  return req.routeOptions.config.ignoresBody !== true && !(Number(req.headers['content-length']) > req.routeOptions.bodyLimit);
}

/** How long the gateway took over a request it rejects: since its body arrived, or since it did when no body was read. */
function rejectionSeconds(req: FastifyRequest): number {
  return (performance.now() - req.workStartedAt) / 1000;
}

/** Maps fastify's own errors (body too large, bad content type) into the catalogue. */
function toTollgateError(error: FastifyError | TollgateError, requestId: string, maxBodyBytes: number): TollgateError {
  if (error instanceof TollgateError) return error;
  if (isTooDeep(error)) return tooDeep();
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new TollgateError('body_too_large', { limit: maxBodyBytes });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new TollgateError('invalid_request', { detail: 'Send the request body as JSON with Content-Type: application/json.' });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new TollgateError('invalid_json', { detail: 'the body is empty' });
    default:
      if (error.statusCode && error.statusCode < 500) return new TollgateError('invalid_request', { detail: error.message });
      return new TollgateError('internal_error', { requestId });
  }
}
