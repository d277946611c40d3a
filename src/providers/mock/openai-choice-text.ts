// What each choice of a chat completion (or a legacy completion) says when it answers in text: the mock's
// words, or a JSON document for a structured-output request (openai-structured-output.ts), ended where
// OpenAI ends them: at the output cap (`length`), or before the first of the request's `stop` sequences
// (`stop`; the sequence is not returned, and the token that completed it is billed, as OpenAI bills it).
import type { MockControls } from './mock-controls.js';
import { resolveOutputLength, type OutputLength } from './mock-controls.js';
import { mockTokens } from './mock-text.js';
import { capStructured, structuredAnswer, structuredPieces } from './openai-structured-output.js';
import { stopAtSequence } from './stop-sequences.js';
import type { MockOptions } from './types.js';

/** One choice's text in the pieces a stream carries it in, the completion tokens it cost and why it ended. */
export interface ChoiceText {
  pieces: string[];
  tokens: number;
  finish: 'stop' | 'length';
  /** One token per piece (the mock's words): logprobs can name each. False for a JSON answer's fragments. */
  tokenPieces: boolean;
}

/** OpenAI's `stop`: a string or up to 4 of them (null or absent: none). */
export function stopSequences(body: Record<string, unknown>): string[] {
  const stop = body.stop;
  if (typeof stop === 'string') return [stop];
  return Array.isArray(stop) ? stop.filter((s): s is string => typeof s === 'string' && s !== '') : [];
}

/** The text of choice `index` (of a request answered in text), `offset` words into the mock's text. */
export function choiceText(
  body: Record<string, unknown>,
  controls: MockControls,
  opts: MockOptions,
  caps: readonly string[],
  len: OutputLength,
  offset: number,
): ChoiceText {
  const model = typeof body.model === 'string' ? body.model : 'gpt-4o';
  const structured = structuredAnswer(body, model, offset);
  if (structured) {
    // The document is as long as the schema makes it; the cap (not mock_output_tokens) can still cut it.
    const cut = resolveOutputLength(body, { ...controls, outputTokens: structured.tokens }, opts, caps);
    const answer = capStructured(structured, cut.tokens);
    return { pieces: structuredPieces(answer.text), tokens: answer.tokens, finish: cut.cut ? 'length' : 'stop', tokenPieces: false };
  }
  const stopped = stopAtSequence(mockTokens(len.tokens, offset), stopSequences(body));
  const finish = stopped.stopped !== undefined || !len.cut ? 'stop' : 'length';
  return { pieces: stopped.pieces, tokens: stopped.tokens, finish, tokenPieces: true };
}
