// Providers used when a config has no `providers` section, so a config with only routes
// (like the Radicalbit examples) can reach OpenAI and Anthropic with keys from the environment.
import type { ProviderPolicy, ProviderType } from './policy.js';

/** Upstream base URLs used when a provider of that type names none. */
export const DEFAULT_BASE_URLS: Partial<Record<ProviderType, string>> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};

/** Upstream timeout when none is configured: long generations stream for minutes. */
export const DEFAULT_TIMEOUT_MS = 600_000;

/** The built-in `openai` and `anthropic` providers, with API keys from OPENAI_API_KEY / ANTHROPIC_API_KEY when set. */
export function builtInProviders(env: NodeJS.ProcessEnv): Map<string, ProviderPolicy> {
  const make = (name: 'openai' | 'anthropic', keyVar: string): ProviderPolicy => {
    const apiKey = env[keyVar];
    return {
      name,
      type: name,
      baseUrl: DEFAULT_BASE_URLS[name],
      ...(apiKey ? { apiKey } : {}),
      headers: {},
      timeoutMs: DEFAULT_TIMEOUT_MS,
    };
  };
  return new Map([
    ['openai', make('openai', 'OPENAI_API_KEY')],
    ['anthropic', make('anthropic', 'ANTHROPIC_API_KEY')],
  ]);
}

/** Names of the built-in providers, for validating route models when `providers` is absent. */
export const BUILT_IN_PROVIDER_NAMES = ['openai', 'anthropic'] as const;
