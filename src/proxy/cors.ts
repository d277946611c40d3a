// CORS for browser apps that call the proxied API (`server.cors_origins`), as api.openai.com and
// api.anthropic.com answer it. Only paths under /v1/: the admin API, /metrics, /healthz and the dashboard
// page are same-origin (or not for browsers at all) and never answer another origin.
import fastifyCors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * The response headers a browser app may read, beyond the CORS-safelisted ones (content-type, ...):
 * every header the gateway itself sends on /v1/ answers, and those it passes on from the provider.
 */
export const EXPOSED_HEADERS: readonly string[] = [
  // Request ids: the gateway's, under the name each SDK reads, and the provider's.
  'x-tollgate-request-id', 'x-request-id', 'request-id', 'x-upstream-request-id',
  // Limits: OpenAI's and Anthropic's rate-limit headers, the retry advice, and Tollgate's own.
  'x-ratelimit-limit-requests', 'x-ratelimit-limit-tokens', 'x-ratelimit-remaining-requests',
  'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens',
  ...['requests', 'tokens', 'input-tokens', 'output-tokens'].flatMap((kind) =>
    ['limit', 'remaining', 'reset'].map((field) => `anthropic-ratelimit-${kind}-${field}`),
  ),
  'retry-after', 'retry-after-ms', 'x-should-retry',
  'x-tollgate-limit', 'x-tollgate-clamped-max-tokens', 'x-tollgate-shadow-limit',
  // Passed on from the provider.
  'openai-processing-ms', 'openai-version', 'anthropic-version',
];

// A page keeps a preflight's answer this long (Chromium caps it at 2 hours, and waits 5 s without it):
// one OPTIONS per 10 minutes per endpoint, and an origin taken off the list stops preflighting soon.
export const PREFLIGHT_MAX_AGE_S = 600;

// The requested headers are allowed as asked (allowedHeaders unset), as OpenAI does: the SDKs send
// x-stainless-*, anthropic-*, openai-* and more, and a list would break at each SDK release. No cookies
// are read, so credentials stay off and `*` may answer any origin.
const ANSWERED: FastifyCorsOptions = {
  methods: 'GET, POST, DELETE',
  exposedHeaders: [...EXPOSED_HEADERS],
  maxAge: PREFLIGHT_MAX_AGE_S,
  // An OPTIONS without Access-Control-Request-Method gets the same 204, not a bare-text 400.
  strictPreflight: false,
};
const ANY_ORIGIN: FastifyCorsOptions = { ...ANSWERED, origin: '*' };
const THIS_ORIGIN: FastifyCorsOptions = { ...ANSWERED, origin: true };
// No CORS header at all: the browser keeps the answer from the page, and OPTIONS is a 404 as without CORS.
const REFUSED: FastifyCorsOptions = { origin: false };

/** The headers of a request that decide its CORS answer. */
export interface CorsAsk {
  url: string;
  method?: string;
  headers: { origin?: string; 'access-control-request-method'?: string; 'access-control-request-headers'?: string };
}

/**
 * What the CORS hook would add, for answers written before or outside fastify's hooks (a path fastify
 * cannot decode, a body that stopped arriving): a page then reads the gateway's error rather than an opaque
 * CORS failure. For a preflight (OPTIONS with Access-Control-Request-Method) the headers of its 204.
 */
export function corsHeadersFor(origins: readonly string[], ask: CorsAsk): Record<string, string> {
  const origin = ask.headers.origin;
  if (!ask.url.startsWith('/v1/') || origin === undefined || origins.length === 0) return {};
  const any = origins[0] === '*';
  if (!any && !origins.includes(origin)) return {};
  const allow: Record<string, string> = any ? { 'access-control-allow-origin': '*' } : { 'access-control-allow-origin': origin, vary: 'Origin' };
  const method = ask.headers['access-control-request-method'];
  if (ask.method !== 'OPTIONS' || method === undefined) return { ...allow, 'access-control-expose-headers': EXPOSED_HEADERS.join(', ') };
  const requested = ask.headers['access-control-request-headers'];
  return {
    ...allow,
    'access-control-allow-methods': ANSWERED.methods as string,
    ...(requested ? { 'access-control-allow-headers': requested } : {}),
    'access-control-max-age': String(PREFLIGHT_MAX_AGE_S),
  };
}

/**
 * Registers CORS on the proxied API. Called only when origins are named at start, so the default path
 * carries no hook; `origins` is read per request, so a reload changes the list (or empties it).
 */
export function registerCors(app: FastifyInstance, origins: () => readonly string[]): void {
  const optionsFor = (req: FastifyRequest): FastifyCorsOptions => {
    if (!req.url.startsWith('/v1/')) return REFUSED;
    const allowed = origins();
    if (allowed[0] === '*') return ANY_ORIGIN;
    const origin = req.headers.origin;
    return origin !== undefined && allowed.includes(origin) ? THIS_ORIGIN : REFUSED;
  };
  void app.register(fastifyCors, { delegator: (req, done) => done(null, optionsFor(req)) });
}
