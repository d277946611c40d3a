// The HTTP side every JSON-over-HTTP provider shares: one keep-alive pool per upstream origin.
import { errors, Pool } from 'undici';
import { passableHeaders, UPSTREAM_CONNECTIONS, type UpstreamResponse } from './provider.js';

// undici checks its timeouts on a ~1 s tick, so a short one fires up to a second late (300 ms let a
// 600 ms answer through). Below this, the wait for the response head is also timed here, exactly.
const PRECISE_HEAD_TIMEOUT_BELOW_MS = 5000;

export class UpstreamPool {
  private readonly pool: Pool;

  constructor(
    origin: string,
    private readonly timeoutMs: number,
  ) {
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
  async request(method: 'GET' | 'POST' | 'DELETE', path: string, headers: Record<string, string>, text: string | undefined, signal?: AbortSignal): Promise<UpstreamResponse> {
    const head = this.timeoutMs < PRECISE_HEAD_TIMEOUT_BELOW_MS ? new AbortController() : undefined;
    // undici's own error, so the caller maps it as it maps undici's (504 upstream_timeout).
    const timer = head && setTimeout(() => head.abort(new errors.HeadersTimeoutError()), this.timeoutMs);
    // The caller's signal stays linked for the body too (a client that leaves mid-stream).
    const linked = head && signal ? AbortSignal.any([signal, head.signal]) : (head?.signal ?? signal);
    try {
      const res = await this.pool.request({ method, path, headers, body: text ?? null, signal: linked });
      return { status: res.statusCode, headers: passableHeaders(res.headers, res.statusCode), body: res.body };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
