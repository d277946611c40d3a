// The provider registry: adding a provider type is one folder plus one line here.
import type { ProviderPolicy, ProviderType } from '../config/policy.js';
import type { Provider } from './provider.js';
import { OpenAIProvider } from './openai/openai-provider.js';
import { AnthropicProvider } from './anthropic/anthropic-provider.js';
import { MockProvider } from './mock/mock-provider.js';

const FACTORIES: Record<ProviderType, (config: ProviderPolicy) => Provider> = {
  openai: (config) => new OpenAIProvider(config),
  anthropic: (config) => new AnthropicProvider(config),
  mock: (config) => new MockProvider(config),
};

/** One provider instance per configured provider name. */
export function createProviders(configs: Map<string, ProviderPolicy>): Map<string, Provider> {
  const out = new Map<string, Provider>();
  for (const [name, config] of configs) out.set(name, FACTORIES[config.type](config));
  return out;
}
