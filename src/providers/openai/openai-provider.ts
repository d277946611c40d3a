// Any OpenAI-compatible upstream (OpenAI, Azure-style deployments, vLLM, Ollama, ...), over a keep-alive pool.
import type { ProviderPolicy } from '../../config/policy.js';
import { UpstreamPool } from '../upstream-pool.js';
import {
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
  private readonly pool: UpstreamPool;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;

  constructor(config: ProviderPolicy) {
    this.name = config.name;
    const url = new URL(config.baseUrl ?? 'https://api.openai.com/v1');
    this.basePath = url.pathname.replace(/\/$/, '');
    this.pool = new UpstreamPool(url.origin, config.timeoutMs);
    // The provider's own key; the client's key never leaves the gateway.
    this.headers = { 'content-type': 'application/json', ...config.headers };
    if (config.apiKey) this.headers.authorization = `Bearer ${config.apiKey}`;
  }

  supports(endpoint: UpstreamEndpoint): boolean {
    return SUPPORTED.has(endpoint);
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    return this.pool.post(this.basePath + UPSTREAM_PATHS[req.endpoint], this.headers, req.text ?? req.body, req.signal);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
