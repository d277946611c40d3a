// Frames the stream relay holds back at the output cap when only an estimate says the cap was passed.
// For Claude and open models the gateway meters with a conservative estimate (the family's factor over
// an OpenAI tokenizer), while the provider stops at the allowance by its own exact count: cutting at the
// estimate ended healthy streams at 50-70% of their max_tokens. So past the estimate nothing more is
// delivered, but the stream goes on: the provider's final count then releases the held frames (within
// the allowance) or ends the stream where delivery stopped (past it, or no count at all). What reaches
// the client never exceeds the allowance by the provider's count, nor by the estimate without it.
import type { SseEvent } from '../providers/sse/index.js';
import type { StreamAdapter, StreamStep } from '../providers/stream-adapter.js';
import type { OutputTokenCounter } from '../tokens/choice-counter.js';

/** A held frame, and where its processing resumes when released. */
export interface HeldFrame {
  frame: Uint8Array;
  events: SseEvent[];
  /** The first event not yet processed. */
  from: number;
  /** For the frame whose event crossed the cap: that event's step, already taken (not delivered). */
  stepped?: StreamStep;
  /** For that frame: what its events before `from` produced. */
  replacement?: string;
}

/**
 * Past this much held back, the stream is ended where delivery stopped: room for the frames of the
 * allowance's tokens (an OpenAI-format chunk is ~200 bytes a token; an open model's estimate runs 2x
 * high, so up to the whole allowance may be held), from 1 to 16 MiB.
 */
export function maxHeldBytes(cap: number): number {
  return Math.min(16 << 20, Math.max(1 << 20, cap * 512));
}

/**
 * What to do after a frame is held: keep holding, deliver everything held, end the stream where delivery
 * stopped, or end it with the failure the provider reported (`failure`).
 */
export type HoldVerdict = 'hold' | 'release' | 'cut' | 'fail';

export class HeldFrames {
  readonly frames: HeldFrame[] = [];
  private bytes = 0;
  private readonly heldText: OutputTokenCounter;
  private finalOutput: number | undefined;
  /** The failure a held event reported. */
  failure: string | undefined;

  constructor(
    private readonly adapter: StreamAdapter,
    /** Meters what was delivered. */
    private readonly delivered: OutputTokenCounter,
    private readonly cap: number,
  ) {
    this.heldText = delivered.sibling();
  }

  /** Output held back so far, counted as delivered output is (the provider produced it). */
  count(): number {
    return this.heldText.count();
  }

  /** The same by the tokenizer's own count, without the family's conservative factor. */
  rawCount(): number {
    return this.heldText.rawCount();
  }

  add(held: HeldFrame): HoldVerdict {
    // Copied: the relay's frames are views into the upstream's chunk.
    this.frames.push({ ...held, frame: Buffer.from(held.frame) });
    this.bytes += held.frame.length;
    if (held.stepped?.text) this.heldText.add(held.stepped.text);
    // The crossing event was stepped: if it carried the final count, the adapter has it.
    if (held.stepped && this.adapter.usage.final) this.finalOutput = this.adapter.usage.output;
    for (let k = held.stepped ? held.from + 1 : held.from; k < held.events.length; k++) {
      const seen = this.adapter.peek(held.events[k]);
      if (seen.text) this.heldText.add(seen.text);
      if (seen.output !== undefined) this.finalOutput = seen.output;
      this.failure ??= seen.failed;
    }
    if (this.failure !== undefined) return 'fail';
    if (this.finalOutput !== undefined) return this.finalOutput <= this.cap ? 'release' : 'cut';
    // Twice the allowance by the tokenizer's own (lower) count: the provider is not stopping.
    if (this.bytes > maxHeldBytes(this.cap) || this.delivered.rawCount() + this.heldText.rawCount() > 2 * this.cap) return 'cut';
    return 'hold';
  }
}
