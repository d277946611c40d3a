// The dependencies are the checkout's (scripts/ sits next to node_modules/), whatever --dist is.
// Loaded on demand, after the arguments are parsed (a bad flag fails before the SDKs load, as it always did).
import { createRequire } from 'node:module';

export async function loadDeps() {
  const require = createRequire(import.meta.url);
  const { default: OpenAI } = await import(require.resolve('openai'));
  const { default: Anthropic } = await import(require.resolve('@anthropic-ai/sdk'));
  const { default: postgres } = await import(require.resolve('postgres'));
  const { Redis } = await import(require.resolve('ioredis'));
  return { OpenAI, Anthropic, postgres, Redis };
}
