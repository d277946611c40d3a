// Legacy completions' `prompt`: one string or one token array is one prompt; a list of strings or of token
// arrays is several, each answered with its own choices (`n` per prompt, ordered by prompt).

/** The prompts of a legacy completions `prompt` field, one entry per prompt. */
export function legacyPrompts(prompt: unknown): unknown[] {
  if (Array.isArray(prompt) && prompt.length > 0 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) return prompt;
  return [prompt];
}
