import { encode as encodeCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { encode as encodeO200k } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { MOCK_WORDS, mockTokens } from './mock-text.js';

const encoders = { o200k_base: encodeO200k, cl100k_base: encodeCl100k };

describe('mock text', () => {
  for (const [name, encode] of Object.entries(encoders)) {
    it(`uses words that are one ${name} token each, bare and after a space`, () => {
      for (const word of MOCK_WORDS) {
        expect(encode(word), word).toHaveLength(1);
        expect(encode(' ' + word), word).toHaveLength(1);
      }
    });

    it(`generates text whose ${name} count is exactly the requested number of tokens`, () => {
      for (const count of [0, 1, 2, 7, 31, 32, 33, 64, 100, 257]) {
        for (const offset of [0, 7, 14]) {
          const pieces = mockTokens(count, offset);
          expect(pieces).toHaveLength(count);
          expect(encode(pieces.join('')), `count ${count} offset ${offset}`).toHaveLength(count);
        }
      }
    });
  }

  it('starts without a leading space and puts one before every later word', () => {
    const pieces = mockTokens(3);
    expect(pieces[0]).toBe(MOCK_WORDS[0]);
    expect(pieces.slice(1).every((p) => p.startsWith(' '))).toBe(true);
  });
});
