// Anthropic's `stop_sequences`: generation stops at the first of them the text would contain; the answer
// ends before it, says `stop_reason: "stop_sequence"` and names it in `stop_sequence`. The stop sequence's
// own token was generated, so it is billed as output with the text before it.

/** The text pieces kept, the output tokens they cost, and the sequence that stopped them (if one did). */
export interface StoppedText {
  pieces: string[];
  tokens: number;
  stopped?: string;
}

/** `pieces` (one token each) cut before the earliest of `sequences` they contain; unchanged when none. */
export function stopAtSequence(pieces: string[], sequences: unknown): StoppedText {
  const whole = { pieces, tokens: pieces.length };
  if (!Array.isArray(sequences)) return whole;
  const text = pieces.join('');
  let at = -1;
  let stopped: string | undefined;
  for (const s of sequences) {
    if (typeof s !== 'string' || s === '') continue;
    const k = text.indexOf(s);
    if (k >= 0 && (at < 0 || k < at)) [at, stopped] = [k, s];
  }
  if (stopped === undefined) return whole;
  const kept: string[] = [];
  let length = 0;
  let tokens = 0;
  // Up to the token in which the sequence is complete (its end), keeping only the text before it.
  for (const piece of pieces) {
    tokens++;
    if (length < at) kept.push(piece.slice(0, at - length));
    length += piece.length;
    if (length >= at + stopped.length) break;
  }
  return { pieces: kept.filter((p) => p !== ''), tokens, stopped };
}
