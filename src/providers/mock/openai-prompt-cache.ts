// What the mock reports of OpenAI's prompt cache: reads in `cached_tokens`, writes in `cache_write_tokens`,
// both parts of the prompt's count. The mock keeps no cache, so a GPT-5.6 (or later) call is a first call:
// a prompt of at least 1,024 tokens is written whole, unless the request turned caching off. Older models
// write for free and report no writes. `mock_cache_read_tokens` / `mock_cache_write_tokens` steer the
// counts on any model (clamped to the prompt), as they do on the Anthropic side.
import { billsCacheWrites, mayWritePromptCache, MIN_CACHED_PROMPT } from '../openai/prompt-cache.js';
import type { MockControls } from './mock-controls.js';

export interface PromptCacheCounts {
  read: number;
  written: number;
  /**
   * Whether the usage carries `cache_write_tokens`: GPT-5.6 and later (or steered). Older models' usage has
   * no such field, as the recorded gpt-4.1 stream (providers/sse/fixtures/openai-responses.sse) shows.
   */
  reported: boolean;
}

export function promptCacheCounts(model: string, body: Record<string, unknown>, controls: MockControls, promptTokens: number): PromptCacheCounts {
  const writes = billsCacheWrites(model);
  const read = Math.min(controls.cacheReadTokens ?? 0, promptTokens);
  const byDefault = writes && promptTokens >= MIN_CACHED_PROMPT && mayWritePromptCache(body) ? promptTokens - read : 0;
  const written = Math.min(controls.cacheWriteTokens ?? byDefault, promptTokens - read);
  return { read, written, reported: writes || controls.cacheWriteTokens !== undefined };
}
