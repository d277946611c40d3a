import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { countTokens, hasLongRun, MAX_PIECE } from './encoders.js';

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
