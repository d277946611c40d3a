// OpenAI's prompt cache, as far as billing goes. From GPT-5.6 on, the tokens a request writes to the cache
// are billed at 1.25x the uncached input rate and reported in `cache_write_tokens`; earlier models write for
// free (developers.openai.com/api/docs/guides/prompt-caching). Every request may write: OpenAI places an
// implicit breakpoint by default, no `prompt_cache_key` needed. Only `prompt_cache_options.mode: "explicit"`
// turns that off, and with no `prompt_cache_breakpoint` in the request nothing is cached at all.
import { someMember } from '../../util/json-members.js';
import type { JsonObject } from '../usage.js';

/** The fewest prompt tokens OpenAI caches (GPT-5.6 and later: exactly 1,024). */
export const MIN_CACHED_PROMPT = 1024;

/**
 * Whether an OpenAI request may write to the prompt cache: all but those in explicit mode that mark no
 * breakpoint. The body is walked only in explicit mode, which few requests use.
 */
export function mayWritePromptCache(body: JsonObject): boolean {
  const options = body.prompt_cache_options;
  if (typeof options !== 'object' || options === null || (options as JsonObject).mode !== 'explicit') return true;
  return marksBreakpoint(body);
}

/** Whether a model is of GPT-5.6 or a later family (`gpt-5.6-sol`, `gpt-6.1-terra`), which bill cache writes. */
export function billsCacheWrites(model: string): boolean {
  const m = /^gpt-(\d+)(?:\.(\d+))?(?![\d.])/.exec(model.toLowerCase());
  if (!m) return false;
  const major = Number(m[1]);
  return major > 5 || (major === 5 && Number(m[2] ?? 0) >= 6);
}

/** A `prompt_cache_breakpoint` key anywhere in the body, set. */
function marksBreakpoint(body: unknown): boolean {
  return someMember(body, (key, x) => key === 'prompt_cache_breakpoint' && x !== null && x !== undefined);
}
