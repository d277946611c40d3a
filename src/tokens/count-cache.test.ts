import { describe, expect, it } from 'vitest';
import { cachedCountTokens, cachedTextCount, MAX_CACHED_TEXT } from './count-cache.js';
import { countTokens } from './encoders.js';

describe('cachedCountTokens', () => {
  it('gives the same count as countTokens, first time and from the cache', () => {
    const texts = ['You are terse.', 'Summarize the benefits of token limits in one sentence.', 'héllo 東京 🙂 <|endoftext|>', ' '.repeat(40)];
    for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
      for (const text of texts) {
        const exact = countTokens(encoding, text);
        expect(cachedCountTokens(encoding, text)).toBe(exact);
        expect(cachedCountTokens(encoding, text)).toBe(exact);
      }
    }
    // The same text under another encoding is a different entry, not a stale hit.
    const t = 'internationalization, tokenization and 東京';
    expect(cachedCountTokens('cl100k_base', t)).toBe(countTokens('cl100k_base', t));
    expect(cachedCountTokens('o200k_base', t)).toBe(countTokens('o200k_base', t));
  });

  it('keeps texts over MAX_CACHED_TEXT out of the cache, and its memory bounded', () => {
    const before = cachedTextCount('o200k_base');
    const long = 'word '.repeat(MAX_CACHED_TEXT / 5 + 1);
    expect(cachedCountTokens('o200k_base', long)).toBe(countTokens('o200k_base', long));
    expect(cachedTextCount('o200k_base')).toBe(before);
    // 4,000 distinct texts of 1,000 chars (4 M chars) exceed the 1 M-char budget: old entries go.
    for (let i = 0; i < 4000; i++) cachedCountTokens('o200k_base', `${i} `.padEnd(1000, 'x'));
    expect(cachedTextCount('o200k_base')).toBeLessThanOrEqual(1100);
    expect(cachedTextCount('o200k_base')).toBeGreaterThan(900);
  });
});
