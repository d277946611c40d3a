// Anthropic's native Messages API (`/v1/messages`, `/v1/messages/count_tokens`), over a keep-alive pool.
import type { ProviderPolicy } from '../../config/policy.js';
import { HttpProvider } from '../http-provider.js';
import type { UpstreamEndpoint, UpstreamRequest } from '../provider.js';

/** The API version sent when the client names none (the one every current SDK sends). */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** Client headers forwarded upstream: they choose API behaviour, never identity. */
export const FORWARDED_CLIENT_HEADERS = ['anthropic-version', 'anthropic-beta'] as const;

const SUPPORTED: ReadonlySet<UpstreamEndpoint> = new Set(['messages', 'count_tokens']);

/** An Anthropic upstream: the provider key as x-api-key, the API version and beta headers the client chose; the base URL's query kept on every path. */
export class AnthropicProvider extends HttpProvider {
  /** The API version sent when the client names none: the operator's (`headers`), or the default. */
  readonly anthropicVersion: string;

  constructor(config: ProviderPolicy) {
    const baseUrl = new URL(config.baseUrl ?? 'https://api.anthropic.com');
    // Anthropic's base URL has no /v1 (the SDK appends it); accept one written with it too.
    const path = baseUrl.pathname.replace(/\/+$/, '');
    // The provider's own key; the client's key never leaves the gateway.
    const headers: Record<string, string> = { 'content-type': 'application/json', 'anthropic-version': DEFAULT_ANTHROPIC_VERSION, ...lower(config.headers) };
    if (config.apiKey) headers['x-api-key'] = config.apiKey;
    super(config, { origin: baseUrl.origin, basePath: path.endsWith('/v1') ? path : `${path}/v1`, query: baseUrl.search, headers, endpoints: SUPPORTED });
    this.anthropicVersion = headers['anthropic-version']!;
  }

  protected override headersFor(req: UpstreamRequest, own: Record<string, string>): Record<string, string> {
    // Not `{ ...own }`: a spread copy that gets more fields makes new hidden classes per call (see proxy/body-copy.ts).
    const headers: Record<string, string> = Object.assign({}, own);
    for (const name of FORWARDED_CLIENT_HEADERS) {
      const value = req.headers?.[name];
      if (value) headers[name] = value;
    }
    return headers;
  }
}

function lower(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
