// `providers.<name>.stream_usage`: off for OpenAI-compatible servers that refuse `stream_options`.
import { describe, expect, it } from 'vitest';
import { issuesOf, load, ROUTE } from '../../test/helpers/config-texts.js';

describe('providers.<name>.stream_usage', () => {
  it('is on unless set to false', () => {
    const policy = load(`
providers:
  openai: {type: openai}
  azure: {type: openai, base_url: "https://x.openai.azure.com/openai/deployments/gpt-4o?api-version=2024-02-01", stream_usage: false}
${ROUTE}`);
    expect(policy.providers.get('openai')!.streamUsage).toBeUndefined();
    expect(policy.providers.get('azure')!.streamUsage).toBe(false);
  });

  it('applies only to OpenAI-format providers', () => {
    const issues = issuesOf(`
providers:
  openai: {type: openai}
  claude: {type: anthropic, stream_usage: false}
${ROUTE}`);
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual(['providers.claude.stream_usage: `stream_usage` applies only to providers of type openai']);
  });
});
