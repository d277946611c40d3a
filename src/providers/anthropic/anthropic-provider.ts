// Anthropic's native Messages API (`/v1/messages`, `/v1/messages/count_tokens`), over a keep-alive pool.
import type { ProviderPolicy } from '../../config/policy.js';
import { UpstreamPool } from '../upstream-pool.js';
import {
  UPSTREAM_PATHS,
  type Provider,
  type UpstreamEndpoint,
  type UpstreamRequest,
  type UpstreamResponse,
} from '../provider.js';

/** The API version sent when the client names none (the one every current SDK sends). */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** Client headers forwarded upstream: they choose API behaviour, never identity. */
export const FORWARDED_CLIENT_HEADERS = ['anthropic-version', 'anthropic-beta'] as const;

const SUPPORTED: ReadonlySet<UpstreamEndpoint> = new Set(['messages', 'count_tokens']);

/** An Anthropic upstream: the provider key as x-api-key, the API version and beta headers the client chose. */
export class AnthropicProvider implements Provider {
  readonly name: string;
  private readonly pool: UpstreamPool;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;

  constructor(config: ProviderPolicy) {
    this.name = config.name;
    const url = new URL(config.baseUrl ?? 'https://api.anthropic.com');
    // Anthropic's base URL has no /v1 (the SDK appends it); accept one written with it too.
    const path = url.pathname.replace(/\/+$/, '');
    this.basePath = path.endsWith('/v1') ? path : `${path}/v1`;
    this.pool = new UpstreamPool(url.origin, config.timeoutMs);
    // The provider's own key; the client's key never leaves the gateway.
    this.headers = { 'content-type': 'application/json', 'anthropic-version': DEFAULT_ANTHROPIC_VERSION, ...lower(config.headers) };
    if (config.apiKey) this.headers['x-api-key'] = config.apiKey;
  }

  supports(endpoint: UpstreamEndpoint): boolean {
    return SUPPORTED.has(endpoint);
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const headers = { ...this.headers };
    for (const name of FORWARDED_CLIENT_HEADERS) {
      const value = req.headers?.[name];
      if (value) headers[name] = value;
    }
    return this.pool.post(this.basePath + UPSTREAM_PATHS[req.endpoint], headers, req.text ?? req.body, req.signal);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

function lower(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
