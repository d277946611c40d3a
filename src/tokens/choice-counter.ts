// Output counted choice by choice. The provider bills each of `n > 1` choices' text as a text of its own,
// while a stream interleaves their deltas and a body lists them one after the other: counted as one text,
// BPE merges across two choices' text (17 mock choices of 3 tokens each, streamed, counted 52, not 51;
// 2 choices of 10, in one body, 23, not 20). So each choice (`index`) is counted apart, a stream's by a
// StreamTokenCounter of its own, and the output is the sum of their counts.
import { countTextTokens } from './estimate-input.js';
import { StreamTokenCounter } from './stream-counter.js';

/** Output text of one choice of an event. */
export interface ChoiceText {
  choice: number;
  text: string;
}

/** Output text an event carries: a string is choice 0's (every event of a single-choice stream). */
export type OutputText = string | readonly ChoiceText[];

/** Tokens of a whole answer's output text: the sum of each choice's count. */
export function countOutputTokens(text: OutputText, model: string): number {
  if (typeof text === 'string') return countTextTokens(text, model);
  let n = 0;
  for (const part of text) n += countTextTokens(part.text, model);
  return n;
}

/** Output tokens of a stream, counted as it arrives, each choice apart. */
export class OutputTokenCounter {
  private readonly first: StreamTokenCounter;
  /** Every choice's counter, the first included (bounded by the choices the request asked for). */
  private readonly choices = new Map<number, StreamTokenCounter>();

  constructor(private readonly model: string) {
    this.first = new StreamTokenCounter(model);
    this.choices.set(0, this.first);
  }

  /** Adds delivered text. */
  add(text: OutputText): void {
    if (typeof text === 'string') return this.first.add(text);
    for (const part of text) this.of(part.choice).add(part.text);
  }

  /** Tokens of all text added so far: the sum of each choice's count. */
  count(): number {
    let n = 0;
    for (const c of this.choices.values()) n += c.count();
    return n;
  }

  /** The same by the tokenizer's own count, without the family's conservative factor. */
  rawCount(): number {
    let n = 0;
    for (const c of this.choices.values()) n += c.rawCount();
    return n;
  }

  /** The count is the family's conservative estimate (Claude, open models), not the billed count. */
  get estimated(): boolean {
    return this.first.estimated;
  }

  /** A new, empty counter for the same model. */
  sibling(): OutputTokenCounter {
    return new OutputTokenCounter(this.model);
  }

  /** What count() would be after add(text), without adding it. */
  countWith(text: OutputText): number {
    if (typeof text === 'string' && this.choices.size === 1) return this.first.countWith(text);
    return this.sumWith(text, (c, t) => c.countWith(t), (c) => c.count());
  }

  /** A cheap upper bound of countWith(text): every token is at least one byte. */
  boundWith(text: OutputText): number {
    if (typeof text === 'string' && this.choices.size === 1) return this.first.boundWith(text);
    return this.sumWith(text, (c, t) => c.boundWith(t), (c) => c.boundWith(''));
  }

  /** The sum over choices of `withText` for those `text` adds to (a choice not seen yet counts from empty), `alone` for the others. */
  private sumWith(text: OutputText, withText: (c: StreamTokenCounter, t: string) => number, alone: (c: StreamTokenCounter) => number): number {
    const added = new Map<number, string>();
    if (typeof text === 'string') added.set(0, text);
    else for (const { choice, text: t } of text) added.set(choice, (added.get(choice) ?? '') + t);
    let n = 0;
    for (const [choice, c] of this.choices) n += added.has(choice) ? withText(c, added.get(choice)!) : alone(c);
    for (const [choice, t] of added) if (!this.choices.has(choice)) n += withText(this.first.sibling(), t);
    return n;
  }

  private of(choice: number): StreamTokenCounter {
    let c = this.choices.get(choice);
    if (!c) this.choices.set(choice, (c = this.first.sibling()));
    return c;
  }
}
