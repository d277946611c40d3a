// Any OpenAI-compatible upstream (OpenAI, Azure-style deployments, vLLM, Ollama, ...), over a keep-alive pool.
import type { ProviderPolicy } from '../../config/policy.js';
import { HttpProvider } from '../http-provider.js';
import type { UpstreamEndpoint } from '../provider.js';

const SUPPORTED: ReadonlySet<UpstreamEndpoint> = new Set(['chat', 'completions', 'embeddings', 'responses']);
const MAX_LEARNT_MODELS = 1000;

/** An OpenAI-format upstream: the provider key as Bearer, the endpoint's path under the base URL, then the base URL's query. */
export class OpenAIProvider extends HttpProvider {
  /** Streams ask for their usage chunk; see Provider.streamUsage. */
  streamUsage: boolean;
  /** Models learnt to refuse `max_tokens`; see Provider.takesCompletionTokens. */
  private readonly completionTokensModels = new Set<string>();

  constructor(config: ProviderPolicy) {
    const baseUrl = new URL(config.baseUrl ?? 'https://api.openai.com/v1');
    // The provider's own key; the client's key never leaves the gateway.
    const headers: Record<string, string> = { 'content-type': 'application/json', ...config.headers };
    if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
    super(config, { origin: baseUrl.origin, basePath: baseUrl.pathname.replace(/\/$/, ''), query: baseUrl.search, headers, endpoints: SUPPORTED });
    this.streamUsage = config.streamUsage !== false;
  }

  refusedStreamOptions(): void {
    this.streamUsage = false;
  }

  takesCompletionTokens(model: string): boolean {
    return this.completionTokensModels.has(model);
  }

  refusedMaxTokens(model: string): void {
    // Bounded: the names come from the config's routes, but a provider serving a catch-all route sees the clients'.
    if (this.completionTokensModels.size < MAX_LEARNT_MODELS) this.completionTokensModels.add(model);
  }
}
