// The HTTP side every JSON-over-HTTP provider shares: one keep-alive pool per upstream origin.
import { Pool } from 'undici';
import { passableHeaders, UPSTREAM_CONNECTIONS, type UpstreamResponse } from './provider.js';

export class UpstreamPool {
  private readonly pool: Pool;

  constructor(origin: string, timeoutMs: number) {
    this.pool = new Pool(origin, {
      connections: UPSTREAM_CONNECTIONS,
      keepAliveTimeout: 30_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  /** POSTs a JSON body (a value, or its JSON text) and hands back the response as it arrives, with only client-safe headers. */
  async post(path: string, headers: Record<string, string>, body: unknown, signal?: AbortSignal): Promise<UpstreamResponse> {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const res = await this.pool.request({ method: 'POST', path, headers, body: text, signal });
    return { status: res.statusCode, headers: passableHeaders(res.headers, res.statusCode), body: res.body };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
