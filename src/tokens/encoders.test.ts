import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { countTokens, hasLongRun, MAX_PIECE, readBpeRanks } from './encoders.js';

const require = createRequire(import.meta.url);
const { O200K_TOKEN_SPLIT_REGEX, CL100K_TOKEN_SPLIT_REGEX } = require('gpt-tokenizer/cjs/encodingParams/constants') as Record<string, RegExp>;

describe('long pre-token guard', () => {
  it('whenever the real pre-tokenizer yields a piece over MAX_PIECE chars, hasLongRun sees it', () => {
    let seed = 11;
    const r = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const runs = ['a', 'É', '東', 'é\u0301', '!', '🙂', ' ', '\u3000', '\n', '/', '\r\n', '/\n', ' \u3000', '\x01', "'s", 'aB', '1'];
    let sawLong = 0;
    const noise = () => {
      let s = '';
      for (let k = Math.floor(r() * 6); k > 0; k--) s += runs[Math.floor(r() * runs.length)].repeat(1 + Math.floor(r() * 6));
      return s;
    };
    for (let i = 0; i < 1500; i++) {
      // One long run between short noise, so a detection can only come from that run.
      const s = noise() + runs[Math.floor(r() * runs.length)].repeat(100 + Math.floor(r() * 600)) + noise();
      for (const split of [O200K_TOKEN_SPLIT_REGEX, CL100K_TOKEN_SPLIT_REGEX]) {
        const longest = Math.max(...[...s.matchAll(split)].map(([p]) => p.length));
        if (longest > MAX_PIECE) {
          sawLong++;
          expect(hasLongRun(s), `missed a ${longest}-char piece`).toBe(true);
        }
      }
    }
    expect(sawLong).toBeGreaterThan(50); // the generator does produce long pieces
  });

  it('stays quiet on ordinary text, so it costs one library call', () => {
    expect(hasLongRun('hello world, this is ordinary prose. '.repeat(500))).toBe(false);
    expect(hasLongRun('function f(x) {\n  return x + 1;\n}\n'.repeat(300))).toBe(false);
  });

  it('counts the empty string as zero without loading anything', () => {
    expect(countTokens('o200k_base', '')).toBe(0);
  });
});

describe('ranks read from the .tiktoken files', () => {
  for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
    it(`equal the array gpt-tokenizer bundles for ${encoding}, token for token`, () => {
      const bundled = (require(`gpt-tokenizer/cjs/bpeRanks/${encoding}`) as { default: Array<string | number[]> }).default;
      // toStrictEqual would report the first difference in a 200,000-element array unreadably: compare one by one.
      const ours = readBpeRanks(encoding);
      const differing = bundled.flatMap((token, rank) => (JSON.stringify(token) === JSON.stringify(ours[rank]) ? [] : [rank]));
      expect(differing).toEqual([]);
      expect(ours.length).toBe(bundled.length);
      // Tokens starting with a UTF-8 BOM are valid UTF-8 yet stay bytes: the case a lenient decoder gets wrong.
      expect(ours.some((t) => Array.isArray(t) && t[0] === 0xef && t[1] === 0xbb && t[2] === 0xbf)).toBe(true);
    });

    it(`count as gpt-tokenizer's own ${encoding} module does`, () => {
      const library = require(`gpt-tokenizer/cjs/encoding/${encoding}`) as { countTokens(text: string, o: object): number };
      for (const text of ['hello world', '\ufeffBOM-led text \ufeff\ufeff', 'Ünïcødé 東京 🙂🙂 café\n\n\tcode();', 'x'.repeat(300) + ' <|endoftext|>']) {
        expect(countTokens(encoding, text), text).toBe(library.countTokens(text, { disallowedSpecial: new Set() }));
      }
    });
  }
});
