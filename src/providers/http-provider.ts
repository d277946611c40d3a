// What every JSON-over-HTTP provider shares: a keep-alive pool to its origin, the path its endpoints
// live under, the headers that carry the provider's own key, and the endpoints it serves.
import type { ProviderPolicy } from '../config/policy.js';
import { UPSTREAM_PATHS, type Provider, type RetrievalRequest, type UpstreamEndpoint, type UpstreamRequest, type UpstreamResponse } from './provider.js';
import { SecretMask } from './secret-mask.js';
import { UpstreamPool } from './upstream-pool.js';

export interface HttpUpstream {
  /** Scheme, host and port: the pool's target. */
  origin: string;
  /** Path prefix of every endpoint (UPSTREAM_PATHS are relative to it), without a trailing slash. */
  basePath: string;
  /** Query string of the base URL (`?api-version=...`, as Azure needs), appended to every path; '' when none. */
  query?: string;
  /** Sent on every request: content type and the provider's own credentials (never the client's). */
  headers: Record<string, string>;
  endpoints: ReadonlySet<UpstreamEndpoint>;
}

export abstract class HttpProvider implements Provider {
  readonly name: string;
  readonly secrets: SecretMask;
  private readonly pool: UpstreamPool;

  protected constructor(
    config: ProviderPolicy,
    private readonly upstream: HttpUpstream,
  ) {
    this.name = config.name;
    // Bodies are read as they came: usage, errors and every stream's frames. Without the header, RFC 9110
    // §12.5.3 lets a server (or a CDN in front of one) compress them, which the gateway would relay as
    // garbage and refund as a failure, though the provider billed the answer.
    for (const name of Object.keys(upstream.headers)) if (name.toLowerCase() === 'accept-encoding') delete upstream.headers[name];
    upstream.headers['accept-encoding'] = 'identity';
    this.secrets = SecretMask.forUpstream(config.apiKey, upstream.headers, upstream.query);
    this.pool = new UpstreamPool(upstream.origin, config.timeoutMs, this.secrets);
  }

  supports(endpoint: UpstreamEndpoint): boolean {
    return this.upstream.endpoints.has(endpoint);
  }

  // Not async, to spare every call the garbage of one more promise layer; a failure still comes as a rejection.
  send(req: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      return this.pool.post(this.upstream.basePath + UPSTREAM_PATHS[req.endpoint] + (this.upstream.query ?? ''), this.headersFor(req, this.upstream.headers), req.text ?? req.body, req.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Only meaningful where `supports('responses')` (stored responses, conversations); the gateway asks nothing else of it. */
  async retrieve(req: RetrievalRequest): Promise<UpstreamResponse> {
    // The base URL's own query (Azure's api-version) first, then the client's, less the parameters the
    // base URL sets: the operator's `api-version` is not the client's to repeat with another value.
    const own = new URLSearchParams(this.upstream.query ?? '');
    const theirs = (req.query ?? '').split('&').filter((pair) => pair !== '' && !own.has(decodeParamName(pair)));
    const query = [this.upstream.query?.replace(/^\?/, ''), ...theirs].filter((q) => q).join('&');
    const path = this.upstream.basePath + req.path + (query ? `?${query}` : '');
    if (req.body !== undefined) return this.pool.request(req.method, path, this.upstream.headers, req.body, req.signal);
    // No body: the JSON content type the provider's headers carry would describe nothing.
    const { 'content-type': _, ...headers } = this.upstream.headers;
    return this.pool.request(req.method, path, headers, undefined, req.signal);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** The headers of one request: the provider's own, plus whatever of the client's this wire format forwards. */
  protected headersFor(_req: UpstreamRequest, own: Record<string, string>): Record<string, string> {
    return own;
  }
}

/** The name of a `name=value` query pair, decoded as URLSearchParams decodes it (`+` is a space). */
function decodeParamName(pair: string): string {
  return new URLSearchParams(pair).keys().next().value ?? '';
}
