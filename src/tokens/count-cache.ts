// Prompt text repeats from call to call: an app's system prompt and few-shot examples go with every
// request, and a chat resends its whole history each turn. Counting a text once per process instead of
// once per request takes BPE (the largest cost of the exact count) off the hot path for those.
import { countTokens } from './encoders.js';
import type { Encoding } from './model-profile.js';

/** Texts longer than this are counted every time: rare, and caching them would cost memory. */
export const MAX_CACHED_TEXT = 32 * 1024;
/** Characters of text kept per encoding (about 2 bytes each) before the oldest entries go. */
const CACHE_BUDGET_CHARS = 1 << 20;

class TextCountCache {
  private readonly counts = new Map<string, number>();
  private chars = 0;

  constructor(private readonly encoding: Encoding) {}

  count(text: string): number {
    if (text.length > MAX_CACHED_TEXT) return countTokens(this.encoding, text);
    let n = this.counts.get(text);
    if (n === undefined) {
      n = countTokens(this.encoding, text);
      this.counts.set(text, n);
      this.chars += text.length;
      // A Map iterates in insertion order: the first keys are the oldest.
      for (const old of this.counts.keys()) {
        if (this.chars <= CACHE_BUDGET_CHARS) break;
        this.counts.delete(old);
        this.chars -= old.length;
      }
    }
    return n;
  }

  get size(): number {
    return this.counts.size;
  }
}

const caches = new Map<Encoding, TextCountCache>();

/** Same as countTokens(encoding, text), remembered for texts up to MAX_CACHED_TEXT characters. */
export function cachedCountTokens(encoding: Encoding, text: string): number {
  let cache = caches.get(encoding);
  if (!cache) caches.set(encoding, (cache = new TextCountCache(encoding)));
  return cache.count(text);
}

/** How many texts are remembered for `encoding` (for tests). */
export function cachedTextCount(encoding: Encoding): number {
  return caches.get(encoding)?.size ?? 0;
}
