// Turning transport failures of the upstream call into catalogue errors, and reading whole bodies.
import { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { TollgateError } from '../errors/tollgate-error.js';
import { throttledLog } from '../util/log-throttle.js';
import type { Usage } from '../providers/usage.js';

/**
 * The 502/504 for an upstream call that could not be made or did not finish (a 400 for a body too deep to
 * send). `charged`: what a timed-out call was charged (nothing unless given).
 */
export function upstreamFailure(provider: string, err: unknown, timeoutMs?: number, charged?: Usage): TollgateError {
  if (isTooDeep(err)) return tooDeep();
  if (isTimeout(err)) return new TollgateError('upstream_timeout', { provider, timeoutMs, charged: charged && charged.input + charged.output, chargedOutput: charged?.output });
  const code = (err as { code?: string }).code ?? '';
  return new TollgateError('upstream_error', { provider, detail: code || (err as Error).message });
}

/** Whether the upstream call failed for taking longer than the provider's `timeout_ms` (for its head, or between two chunks of its body). */
export function isTimeout(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/**
 * JSON nested thousands of levels deep parses, but serializing it (to send it upstream) or walking it
 * overflows the stack: the client's body is at fault, not the provider, and a 5xx would have the SDKs
 * send it three times.
 */
export function isTooDeep(err: unknown): boolean {
  return err instanceof RangeError && err.message.includes('call stack');
}

/** The 400 for a body nested too deeply to forward. */
export function tooDeep(): TollgateError {
  return new TollgateError('invalid_request', { detail: 'The JSON body is nested too deeply to be forwarded. Flatten it.' });
}

/** A provider's misconfiguration is logged at most this often, per provider and kind (every call fails the same way until it is fixed). */
const OPERATOR_WARNING_EVERY_MS = 60_000;
const operatorWarnings = new Map<string, ReturnType<typeof throttledLog>>();

/** Logs `write`'s line unless one of its `kind` was logged less than a minute ago; `more` counts the calls since. */
function warnOperator(kind: string, provider: string, write: (more: string, calls: number) => void): void {
  const key = `${kind} ${provider}`;
  let warn = operatorWarnings.get(key);
  if (!warn) operatorWarnings.set(key, (warn = throttledLog(OPERATOR_WARNING_EVERY_MS)));
  warn((calls) => write(calls > 1 ? ` (${calls} calls since the last warning)` : '', calls));
}

/**
 * The 502 for an upstream 401/403: those concern the gateway's provider key, not the caller's. A retry
 * cannot succeed until an operator fixes the key, so the SDKs are told not to (they retry every 5xx).
 * The operator is told in the log, as the callers only see a 502.
 */
export function credentialsRefused(provider: string, status: number, log: FastifyBaseLogger): TollgateError {
  warnOperator('credentials', provider, (more, calls) =>
    log.warn({ provider, status, calls }, `provider "${provider}" refused the gateway's API key (HTTP ${status}): check providers.${provider}.api_key; callers get a 502${more}`),
  );
  const advice = "a retry cannot succeed until the gateway's operator fixes its provider key";
  return new TollgateError('upstream_error', { provider, detail: `the provider refused the gateway's credentials (HTTP ${status})`, advice }, { 'x-should-retry': 'false' });
}

/**
 * Whether a successful answer's body can be a JSON object: its first byte that is not white space (or a
 * byte order mark) is `{`, and its last is `}`. Every endpoint the gateway serves answers one; anything
 * else (an HTML page from a proxy or a web app at the wrong base_url, plain text, an object cut short by a
 * wrong Content-Length or a proxy that ended the body early) is no model's whole answer. Both ends only,
 * not a parse: the body is not otherwise read whole.
 */
export function looksLikeJsonObject(raw: Buffer): boolean {
  let i = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0;
  while (i < raw.length && isJsonSpace(raw[i])) i++;
  let last = raw.length - 1;
  while (last > i && isJsonSpace(raw[last])) last--;
  return raw[i] === 0x7b && last > i && raw[last] === 0x7d;
}

function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * The 502 for a successful answer that is not JSON: the client's SDK would fail to parse it with an error
 * that names nothing, and the call would be billed for counting an HTML page as output. Nothing is
 * charged: no model produced it. The operator is told in the log (a wrong base_url answers every call so).
 */
export function notJsonAnswer(provider: string, status: number, contentType: string | undefined, log: FastifyBaseLogger): TollgateError {
  const type = contentType ? `, content-type ${contentType.split(';')[0].trim()}` : '';
  warnOperator('not_json', provider, (more, calls) =>
    log.warn({ provider, status, contentType, calls }, `provider "${provider}" answered HTTP ${status} with a body that is not JSON${type}: check providers.${provider}.base_url; callers get a 502${more}`),
  );
  const detail = `it answered HTTP ${status} with a body that is not JSON${type}`;
  return new TollgateError('upstream_error', { provider, detail });
}

/** Reads a whole (non-streamed) upstream body. */
export function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  // 'data' events cost less than an async iterator (a promise per chunk), on every non-streamed call;
  // and no async layer here, which would add ~0.4 KB of garbage to each.
  return body instanceof Readable ? collect(body) : iterate(body);
}

async function iterate(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  return joined(chunks);
}

function collect(body: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    // `on`, not `once`: each of these fires once at most, or does nothing the second time (a settled
    // promise), and `once` wraps every listener in two more objects.
    body.on('data', (c: Uint8Array) => chunks.push(c));
    body.on('end', () => {
      try {
        resolve(joined(chunks));
      } catch (err) {
        reject(err);
      }
    });
    body.on('error', reject);
    body.on('close', () => {
      // Destroyed before its end without an error event (aborted): nothing complete to hand back.
      if (!body.readableEnded) reject(new Error('the upstream body was closed before its end'));
    });
  });
}

/** The chunks as one buffer: a lone chunk is not copied. */
function joined(chunks: Uint8Array[]): Buffer {
  return chunks.length === 1 ? Buffer.from(chunks[0].buffer, chunks[0].byteOffset, chunks[0].byteLength) : Buffer.concat(chunks);
}
