// The HTTP side every JSON-over-HTTP provider shares: one keep-alive pool per upstream origin.
import { errors, Pool, type Dispatcher } from 'undici';
import { passableHeaders, UPSTREAM_CONNECTIONS, type UpstreamResponse } from './provider.js';
import { SecretMask } from './secret-mask.js';

// undici checks its timeouts on a ~1 s tick, so a short one fires up to a second late (300 ms let a
// 600 ms answer through). Below this, the wait for the response head is also timed here, exactly.
const PRECISE_HEAD_TIMEOUT_BELOW_MS = 5000;

/**
 * An upstream response as the gateway hands it on: status, only client-safe headers, the body as it arrives.
 * An error answer may quote the provider's own key (secret-mask.ts): its headers and body come with every
 * secret masked, so no endpoint that relays an error can show one. Successful answers are not read here.
 */
function clientResponse(res: Dispatcher.ResponseData, secrets: SecretMask): UpstreamResponse {
  const headers = passableHeaders(res.headers, res.statusCode);
  if (res.statusCode < 400 || secrets.empty) return { status: res.statusCode, headers, body: res.body };
  return { status: res.statusCode, headers: secrets.headers(headers), body: maskedWhole(res.body, secrets) };
}

/** The whole body, then masked: a secret may straddle two chunks. Error bodies are small and relayed whole anyway. */
async function* maskedWhole(body: AsyncIterable<Uint8Array>, secrets: SecretMask): AsyncIterable<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  yield secrets.bytes(Buffer.concat(chunks));
}

/**
 * A request body as undici is handed it. Its request handler keeps the `body` it was given until the
 * response ends (a stream's whole life), besides the Buffer its core request makes of a string to write:
 * a 40 KB prompt's JSON text stayed on the heap for every open stream. Given that Buffer itself, both hold
 * the one copy, off the JS heap, and the text is garbage once encoded. Same bytes and content-length.
 */
function bytesOf(text: string | undefined): Buffer | null {
  return text === undefined ? null : Buffer.from(text);
}

export class UpstreamPool {
  private readonly pool: Pool;
  /** Made once: a closure per call would be garbage on every request. */
  private readonly toClient: (res: Dispatcher.ResponseData) => UpstreamResponse;

  constructor(
    origin: string,
    private readonly timeoutMs: number,
    secrets: SecretMask = SecretMask.NONE,
  ) {
    this.toClient = (res) => clientResponse(res, secrets);
    this.pool = new Pool(origin, {
      connections: UPSTREAM_CONNECTIONS,
      keepAliveTimeout: 30_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  /** POSTs a JSON body (a value, or its JSON text) and hands back the response as it arrives, with only client-safe headers. */
  post(path: string, headers: Record<string, string>, body: unknown, signal?: AbortSignal): Promise<UpstreamResponse> {
    return this.request('POST', path, headers, typeof body === 'string' ? body : JSON.stringify(body), signal);
  }

  /** Sends a request (a body only when `text` is given) and hands back the response as it arrives, with only client-safe headers. */
  request(method: 'GET' | 'POST' | 'DELETE', path: string, headers: Record<string, string>, text: string | undefined, signal?: AbortSignal): Promise<UpstreamResponse> {
    if (this.timeoutMs < PRECISE_HEAD_TIMEOUT_BELOW_MS) return this.requestWithHeadTimer(method, path, headers, text, signal);
    // undici times the head alone: no async layer of ours (one is ~0.4 KB of garbage per call).
    return this.pool.request({ method, path, headers, body: bytesOf(text), signal }).then(this.toClient);
  }

  private async requestWithHeadTimer(method: 'GET' | 'POST' | 'DELETE', path: string, headers: Record<string, string>, text: string | undefined, signal?: AbortSignal): Promise<UpstreamResponse> {
    const head = new AbortController();
    // undici's own error, so the caller maps it as it maps undici's (504 upstream_timeout).
    const timer = setTimeout(() => head.abort(new errors.HeadersTimeoutError()), this.timeoutMs);
    // The caller's signal stays linked for the body too (a client that leaves mid-stream).
    const linked = signal ? AbortSignal.any([signal, head.signal]) : head.signal;
    try {
      return this.toClient(await this.pool.request({ method, path, headers, body: bytesOf(text), signal: linked }));
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
