// `providers.<name>.default_service_tier`: the tier an OpenAI project serves calls that name none at.
import { describe, expect, it } from 'vitest';
import { issuesOf, load, ROUTE } from '../../test/helpers/config-texts.js';

describe('providers.<name>.default_service_tier', () => {
  it('is standard unless set to priority', () => {
    const policy = load(`
providers:
  openai: {type: openai}
  fast: {type: openai, default_service_tier: priority}
  plain: {type: openai, default_service_tier: default}
${ROUTE}`);
    expect(policy.providers.get('openai')!.defaultServiceTier).toBeUndefined();
    expect(policy.providers.get('fast')!.defaultServiceTier).toBe('priority');
    expect(policy.providers.get('plain')!.defaultServiceTier).toBeUndefined();
  });

  it('applies only to OpenAI-format providers, and only to the tiers a project can default to', () => {
    const wrongTier = issuesOf(`
providers:
  openai: {type: openai, default_service_tier: flex}
${ROUTE}`);
    expect(wrongTier.map((i) => `${i.path}: ${i.message}`)).toEqual(['providers.openai.default_service_tier: `flex` is not one of `default`, `priority`']);
    const wrongProvider = issuesOf(`
providers:
  claude: {type: anthropic, default_service_tier: priority}
${ROUTE}`);
    expect(wrongProvider.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'providers.claude.default_service_tier: `default_service_tier` applies only to providers of type openai (and mock)',
    ]);
  });
});
