// OpenAI's stream obfuscation: every streamed chat.completion.chunk (the usage chunk too) and every Responses
// `*.delta` event carries an `obfuscation` member, the last one, of random base62 characters that even out
// payload sizes against length side channels. It is on by default; `stream_options.include_obfuscation: false`
// turns it off. Legacy completions streams have none. Lengths follow a recorded gpt-4o stream: a delta's text
// and its padding together make 16 characters; chunks without text get 8-15.
import { mockId } from './mock-ids.js';

/** Whether a stream request leaves obfuscation on (OpenAI's default). */
export function wantsObfuscation(body: Record<string, unknown>): boolean {
  const so = body.stream_options;
  return !(typeof so === 'object' && so !== null && (so as Record<string, unknown>).include_obfuscation === false);
}

/** Padding for one stream: random characters drawn once, sliced per chunk (the mock's per-token work stays small). */
export class ObfuscationPad {
  private readonly chars = mockId('', 64);
  private turn = 0;

  /** The `obfuscation` value for a chunk whose delta text is `text` (undefined: a chunk without text). */
  next(text?: string): string {
    const length = text === undefined ? 8 + (this.turn % 8) : 16 - (text.length % 16);
    const start = (this.turn++ * 7) % 48;
    return this.chars.slice(start, start + length);
  }

  /** `,"obfuscation":"…"`, to end a chunk's JSON text with. */
  member(text?: string): string {
    return `,"obfuscation":"${this.next(text)}"`;
  }
}
