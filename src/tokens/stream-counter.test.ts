import { describe, expect, it } from 'vitest';
import { countTextTokens } from './index.js';
import { StreamTokenCounter } from './stream-counter.js';
import { mulberry32 } from '../util/prng.js';

// Deterministic PRNG so a failing case can be replayed from its seed.
// Pieces chosen to stress the pre-tokenizers: contractions, digit groups, whitespace before newlines,
// punctuation runs, mixed scripts and case changes (o200k splits camelCase).
const ATOMS = [
  'the', ' model', ' will', 'Hello', 'camelCase', 'XMLHttp', "'", "'re", "'s", 's', 't', 're', ' ', '  ', '   ', '\n', '\n\n', '\r\n', '\t',
  '1', '12', '123', '4567', '.', ',', '!!', '...', '{"a":', '"b"}', '/', '//', 'é', 'ß', '日本語', '🎉', '👍🏽', ' —', 'naïve', '```', 'x', 'é\u0301',
];

function randomText(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ATOMS[Math.floor(rand() * ATOMS.length)];
  return s;
}

function splitAt(rand: () => number, text: string): string[] {
  const parts: string[] = [];
  let i = 0;
  // Cut on code points so no part holds half a surrogate pair (deltas on the wire are valid strings).
  const chars = Array.from(text);
  while (i < chars.length) {
    const len = 1 + Math.floor(rand() * 6);
    parts.push(chars.slice(i, i + len).join(''));
    i += len;
  }
  return parts;
}

describe('StreamTokenCounter', () => {
  for (const model of ['gpt-4o', 'gpt-4', 'claude-sonnet-4', 'claude-3-5-haiku', 'llama-3-70b']) {
    it(`counts random deltas of random text exactly as the whole text (${model})`, () => {
      const rand = mulberry32(0xc0ffee);
      for (let round = 0; round < 150; round++) {
        const text = randomText(rand, 1 + Math.floor(rand() * 300));
        const counter = new StreamTokenCounter(model);
        const stepwise = round % 5 === 0; // look-ahead checks are the slow part; every fifth round is enough
        for (const part of splitAt(rand, text)) {
          if (stepwise) {
            const ahead = counter.countWith(part);
            expect(counter.boundWith(part)).toBeGreaterThanOrEqual(ahead);
            counter.add(part);
            expect(counter.count()).toBe(ahead);
          } else counter.add(part);
        }
        expect(counter.count(), `round ${round}: ${JSON.stringify(text)}`).toBe(countTextTokens(text, model));
      }
    });
  }

  it('is needed: summing per-delta counts can undercount the whole text', () => {
    // Found by search: the whole splits into more pre-tokens than the parts (whitespace looks ahead,
    // punctuation runs join), so a sum of delta counts would charge less than was delivered.
    for (const [a, b, model] of [['.```', ',,', 'gpt-4o'], ['\t   ', '12x', 'gpt-4']] as const) {
      const parts = [a, b];
      expect(countTextTokens(parts[0], model) + countTextTokens(parts[1], model)).toBeLessThan(countTextTokens(parts.join(''), model));
      const counter = new StreamTokenCounter(model);
      for (const p of parts) counter.add(p);
      expect(counter.count()).toBe(countTextTokens(parts.join(''), model));
    }
  });

  it('holds bounded text whatever the stream length, and stays an upper bound on pathological pieces', () => {
    const counter = new StreamTokenCounter('gpt-4o');
    // Every open stream holds its uncounted text: it must stay a few words long, not grow with the stream.
    let longestHeld = 0;
    for (let i = 0; i < 20_000; i++) {
      counter.add(' word');
      longestHeld = Math.max(longestHeld, (counter as unknown as { tail: string }).tail.length);
    }
    expect(counter.count()).toBe(20_000);
    expect(longestHeld).toBeLessThan(80);
    const giant = new StreamTokenCounter('gpt-4o');
    const run = 'a'.repeat(3000);
    for (let i = 0; i < run.length; i += 7) giant.add(run.slice(i, i + 7));
    expect(giant.count()).toBeGreaterThanOrEqual(countTextTokens(run, 'gpt-4o'));
  });
});
