import { describe, expect, it } from 'vitest';
import { countTextTokens } from './index.js';
import { OutputTokenCounter, type ChoiceText } from './choice-counter.js';
import { mulberry32 } from '../util/prng.js';

const WORDS = ['the', ' model', "'re", ' ', '\n', '12', '345', '.', '```', ',,', '日本', '🎉', 'camelCase', ' —', '\t  '];

describe('OutputTokenCounter', () => {
  for (const model of ['gpt-4o', 'claude-sonnet-4']) {
    it(`counts interleaved choices as the sum of each choice's own count, looking ahead consistently (${model})`, () => {
      const rand = mulberry32(0x5eed);
      for (let round = 0; round < 40; round++) {
        const n = 1 + Math.floor(rand() * 5);
        const texts = Array<string>(n).fill('');
        const counter = new OutputTokenCounter(model);
        for (let step = 0; step < 60; step++) {
          // One choice per event, as OpenAI sends them; now and then several in one event, or choice 0 as a plain string.
          const parts: ChoiceText[] = [];
          for (let k = 0; k < (rand() < 0.2 ? 2 : 1); k++) parts.push({ choice: Math.floor(rand() * n), text: WORDS[Math.floor(rand() * WORDS.length)] });
          const event = parts.length === 1 && parts[0].choice === 0 && rand() < 0.5 ? parts[0].text : parts;
          const ahead = counter.countWith(event);
          expect(counter.boundWith(event)).toBeGreaterThanOrEqual(ahead);
          counter.add(event);
          expect(counter.count()).toBe(ahead);
          for (const p of parts) texts[p.choice] += p.text;
        }
        const perChoice = texts.reduce((sum, t) => sum + countTextTokens(t, model), 0);
        expect(counter.count(), `round ${round}: ${JSON.stringify(texts)}`).toBe(perChoice);
      }
    });
  }

  it('does not let two choices merge into more tokens than each has', () => {
    // The first words of 17 mock choices, run together in the interleaved stream, count 18 tokens.
    const firsts = ['the', 'each', 'the', 'request', 'than', 'stream', 'the', 'its', 'user', 'allows', 'at', 'keep', 'every', 'more', 'will', 'through', 'under'];
    expect(countTextTokens(firsts.join(''), 'gpt-4o')).toBe(18);
    const counter = new OutputTokenCounter('gpt-4o');
    firsts.forEach((text, choice) => counter.add([{ choice, text }]));
    expect(counter.count()).toBe(17);
    expect(counter.sibling().count()).toBe(0);
  });
});
