// Completions and embeddings input: a string, strings, a token array or token arrays (counted by length).
import type { Meter } from './meter.js';

function onePrompt(p: unknown, m: Meter): number {
  const per = m.profile.perPrompt;
  if (typeof p === 'string') return per + m.text(p);
  if (Array.isArray(p)) {
    let n = per;
    for (const t of p) n += typeof t === 'number' ? 1 : m.any(t);
    return n;
  }
  return m.any(p);
}

/** Tokens of `prompt` / `input`: string | string[] | number[] | number[][]. */
export function countPrompts(value: unknown, m: Meter): number {
  if (!Array.isArray(value)) return onePrompt(value, m);
  // A flat array of numbers is one tokenized prompt, not many prompts.
  if (value.length > 0 && value.every((t) => typeof t === 'number')) return onePrompt(value, m);
  let n = 0;
  for (const p of value) n += onePrompt(p, m);
  return n;
}

/** Input tokens of a /v1/completions body (`n` and `best_of` do not change what is billed as input). */
export function countCompletions(body: Record<string, unknown>, m: Meter): number {
  return countPrompts(body.prompt, m) + m.any(body.suffix);
}

/** Input tokens of a /v1/embeddings body. */
export function countEmbeddings(body: Record<string, unknown>, m: Meter): number {
  return countPrompts(body.input, m);
}
