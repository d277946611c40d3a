// Generated completion text whose token count is known without a tokenizer.

// Each word is exactly one token in o200k_base and cl100k_base, both bare and with a leading space
// (mock-text.test.ts checks this with gpt-tokenizer), so N generated pieces are N tokens when counted.
export const MOCK_WORDS: readonly string[] = (
  'the model will stream one token at each step through the gate and keep the budget under its limit ' +
  'for every request so no user can pay more than their plan allows'
).split(' ');

/** Returns `count` text pieces, one token each; `offset` varies the text between choices. */
export function mockTokens(count: number, offset = 0): string[] {
  const out = new Array<string>(count);
  const n = MOCK_WORDS.length;
  for (let i = 0; i < count; i++) {
    const word = MOCK_WORDS[(i + offset) % n]!;
    out[i] = i === 0 ? word : ' ' + word;
  }
  return out;
}
