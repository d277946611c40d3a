// OpenAI text must never be estimated below what OpenAI bills. The reference here is independent of the
// gateway's tokenizer path: js-tiktoken (a port of OpenAI's tiktoken) plus the cookbook's chat formula for
// the o200k_base and cl100k_base families (3 per message, +1 per name, +3 reply priming). Texts include the
// shapes a cheap bound could get wrong: emoji and ZWJ sequences, CJK, rare astral characters, digits,
// whitespace runs, long single pre-tokens (which the gateway counts as bytes), special-token strings.
import fc from 'fast-check';
import { getEncoding, type Tiktoken } from 'js-tiktoken';
import { describe, expect, it } from 'vitest';
import { estimateInput } from '../src/tokens/index.js';

const encoders: Record<string, Tiktoken> = {};
const encoder = (name: 'o200k_base' | 'cl100k_base') => (encoders[name] ??= getEncoding(name));
// Special-token strings in user text are plain text to the API.
const tokens = (enc: Tiktoken, s: string) => enc.encode(s, [], []).length;

const piece = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }), // any code point, astral included
  fc.constantFrom('👨‍👩‍👧‍👦', '🏳️‍🌈', '🇯🇵', '🫠', '𠜎𠜱𠝹', '東京タワー', '1234567890', '0.000001', '<|endoftext|>', '<|im_start|>', '\r\n\r\n', '\t\t\t', '    ', 'ﷺ', '\u200b\u200b'),
  // Runs past the 256 characters that take the guarded path; not much further, as the reference tokenizer
  // takes time quadratic in a run's length (4,200 emoji: 30 s). Neighbouring pieces make longer runs.
  fc.tuple(fc.constantFrom(' ', 'a', '7', '!', '\n', '😀', '字'), fc.integer({ min: 1, max: 320 })).map(([c, n]) => c.repeat(n)),
);
const text = fc.array(piece, { maxLength: 6 }).map((parts) => parts.join(''));
const message = fc.record(
  { role: fc.constantFrom('system', 'user', 'assistant', 'developer'), content: text, name: fc.option(fc.stringMatching(/^[a-zA-Z0-9_-]{1,20}$/), { nil: undefined }) },
  { requiredKeys: ['role', 'content'] },
);

/** The cookbook's count of a chat, with js-tiktoken. */
function cookbook(enc: Tiktoken, messages: { role: string; content: string; name?: string }[]): number {
  let n = 3;
  for (const m of messages) n += 3 + tokens(enc, m.role) + tokens(enc, m.content) + (m.name === undefined ? 0 : 1 + tokens(enc, m.name));
  return n;
}

describe('OpenAI text: the estimate is never below the billed count', () => {
  for (const [model, encoding] of [['gpt-4o', 'o200k_base'], ['gpt-5.4-mini', 'o200k_base'], ['gpt-4-turbo', 'cl100k_base']] as const) {
    it(`chat on ${model} (${encoding}): upperBound ≥ exact() ≥ the cookbook count, which it equals on ordinary text`, () => {
      fc.assert(
        fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), (messages) => {
          const est = estimateInput('chat', { messages }, model);
          const real = cookbook(encoder(encoding), messages);
          expect(est.exact()).toBeGreaterThanOrEqual(real);
          expect(est.upperBound).toBeGreaterThanOrEqual(est.exact());
          // Only texts with a run of 256 letters/symbols/spaces take the guarded path; shorter ones are counted exactly.
          if (messages.every((m) => m.content.length < 256)) expect(est.exact()).toBe(real);
        }),
        { numRuns: 25 },
      );
    });
  }

  it('embeddings and completions: no framing, every prompt counted', () => {
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 4 }), (input) => {
        const real = input.reduce((a, s) => a + tokens(encoder('cl100k_base'), s), 0);
        for (const [endpoint, body] of [['embeddings', { input }], ['completions', { prompt: input }]] as const) {
          const est = estimateInput(endpoint, body, 'text-embedding-3-small');
          expect(est.exact()).toBeGreaterThanOrEqual(real);
          expect(est.upperBound).toBeGreaterThanOrEqual(est.exact());
        }
      }),
      { numRuns: 20 },
    );
  });
});
