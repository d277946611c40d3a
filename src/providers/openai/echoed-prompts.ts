// Legacy completions with `echo: true` answer each choice's prompt before its completion, and the prompt is
// billed as input: metered as output, it was charged twice and cut streams short at their cap. This takes
// it off the text the gateway meters (the client still gets every byte).
import type { ChoiceText, OutputText } from '../../tokens/choice-counter.js';
import { legacyPrompts } from './legacy-prompts.js';
import type { JsonObject } from '../usage.js';

/** One choice's echo still to come: its text, or `undefined` when only its first piece is known to be it. */
type Pending = { text: string | undefined };

/** The echoed prompts of one `echo: true` completions call, taken off each choice's text in order. */
export class EchoedPrompts {
  // Per choice: the echo still expected; absent before its first text, null once it has passed.
  private readonly left = new Map<number, Pending | null>();

  private constructor(
    /** Each prompt's text; undefined for a token array, whose text only the server's tokenizer knows. */
    private readonly prompts: ReadonlyArray<string | undefined>,
    /** Choices per prompt (`n`): choices come ordered by prompt, then n. */
    private readonly perPrompt: number,
  ) {}

  /** The echoes of a completions body that asks for them; undefined otherwise. */
  static of(body: JsonObject): EchoedPrompts | undefined {
    if (body.echo !== true) return undefined;
    const prompts = legacyPrompts(body.prompt).map((p) => (typeof p === 'string' ? p : undefined));
    const n = typeof body.n === 'number' && Number.isInteger(body.n) && body.n > 0 ? body.n : 1;
    return new EchoedPrompts(prompts, n);
  }

  /**
   * The generated part of streamed text (each piece of a choice in order). `commit` false reads without
   * moving on (a frame the relay holds back, stepped again later). A token array's echo is taken to be its
   * choice's first piece, which is how servers stream it (with the first generated token at most).
   */
  streamed(text: OutputText, commit = true): OutputText {
    if (typeof text === 'string') return this.piece(0, text, commit);
    return text.map((part): ChoiceText => ({ choice: part.choice, text: this.piece(part.choice, part.text, commit) })).filter((part) => part.text !== '');
  }

  /** The generated part of each choice's whole text (a non-streamed answer); a token array's echo stays in. */
  whole(text: OutputText): OutputText {
    const generated = (choice: number, t: string): string => {
      const prompt = this.promptOf(choice);
      return prompt !== undefined && t.startsWith(prompt) ? t.slice(prompt.length) : t;
    };
    if (typeof text === 'string') return generated(0, text);
    return text.map((part): ChoiceText => ({ choice: part.choice, text: generated(part.choice, part.text) }));
  }

  private promptOf(choice: number): string | undefined {
    return this.prompts[Math.floor(choice / this.perPrompt)];
  }

  private piece(choice: number, text: string, commit: boolean): string {
    let pending = this.left.get(choice);
    if (pending === null || text === '') return text;
    pending ??= { text: this.promptOf(choice) };
    const echo = pending.text;
    let rest: Pending | null = null;
    let generated: string;
    if (echo === undefined) generated = '';
    else if (text.startsWith(echo)) generated = text.slice(echo.length);
    else if (echo.startsWith(text)) {
      generated = '';
      rest = echo.length > text.length ? { text: echo.slice(text.length) } : null;
    } else generated = text; // not the echo after all (a server that normalised it): metered as it is
    if (commit) this.left.set(choice, rest);
    return generated;
  }
}
