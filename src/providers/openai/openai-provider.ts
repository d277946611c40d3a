// Any OpenAI-compatible upstream (OpenAI, Azure-style deployments, vLLM, Ollama, ...), over a keep-alive pool.
import { Pool } from 'undici';
import type { ProviderPolicy } from '../../config/policy.js';
import {
  passableHeaders,
  UPSTREAM_CONNECTIONS,
  UPSTREAM_PATHS,
  type Provider,
  type UpstreamEndpoint,
  type UpstreamRequest,
  type UpstreamResponse,
} from '../provider.js';

const SUPPORTED: ReadonlySet<UpstreamEndpoint> = new Set(['chat', 'completions', 'embeddings', 'responses']);

/** An OpenAI-format upstream: the provider key as Bearer, the endpoint's path under the base URL. */
export class OpenAIProvider implements Provider {
  readonly name: string;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;

  constructor(
    config: ProviderPolicy,
    /** Path prefix for each endpoint, for non-standard upstreams. */
    private readonly paths: Record<string, string> = UPSTREAM_PATHS,
  ) {
    this.name = config.name;
    const url = new URL(config.baseUrl ?? 'https://api.openai.com/v1');
    this.basePath = url.pathname.replace(/\/$/, '');
    this.pool = new Pool(url.origin, {
      connections: UPSTREAM_CONNECTIONS,
      keepAliveTimeout: 30_000,
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
    });
    // The provider's own key; the client's key never leaves the gateway.
    this.headers = { 'content-type': 'application/json', ...config.headers };
    if (config.apiKey) this.headers.authorization = `Bearer ${config.apiKey}`;
  }

  supports(endpoint: UpstreamEndpoint): boolean {
    return SUPPORTED.has(endpoint);
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const res = await this.pool.request({
      method: 'POST',
      path: this.basePath + this.paths[req.endpoint],
      headers: this.headers,
      body: JSON.stringify(req.body),
      signal: req.signal,
    });
    return { status: res.statusCode, headers: passableHeaders(res.headers), body: res.body };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
