// Splits an event-stream body into frames: the raw bytes of each event up to and including the blank
// line that dispatches it. A relay that forwards whole frames can drop, replace or stop at any event
// without ever sending half of one, and forwards the bytes it keeps exactly as they came.
// Hand-written because no library exposes SSE byte boundaries; the line rules are the parser's (WHATWG).

const LF = 10;
const CR = 13;

/** Frames larger than this are an upstream fault, not an event (they would otherwise grow without bound). */
export const MAX_FRAME_BYTES = 32 * 1024 * 1024;

/** Complete frames found in one chunk: frame i is bytes[ends[i-1] ?? 0, ends[i]). */
export interface Frames {
  bytes: Uint8Array;
  ends: number[];
}

const NO_BYTES = new Uint8Array(0);

/** Incremental framer: holds at most one incomplete frame between chunks. */
export class SseFramer {
  // Chunks of the frame in progress, joined only once it completes (a large frame in many small chunks is copied once).
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private lineStart = true; // the next byte starts a line
  private afterCR = false; // the previous byte was a CR: an LF now completes a CRLF, not a new line

  /** Feeds the next chunk; returns the frames it completed. Throws when one frame exceeds MAX_FRAME_BYTES. */
  push(chunk: Uint8Array): Frames {
    const ends: number[] = [];
    if (!this.afterCR && chunk.indexOf(CR) === -1) this.scanLF(chunk, ends);
    else this.scanAny(chunk, ends);
    if (ends.length === 0) {
      this.hold(chunk);
      return { bytes: NO_BYTES, ends };
    }
    let bytes = chunk;
    if (this.heldBytes > 0) {
      const offset = this.heldBytes;
      bytes = Buffer.concat([...this.held, chunk]);
      for (let i = 0; i < ends.length; i++) ends[i] += offset;
      this.held = [];
      this.heldBytes = 0;
    }
    const last = ends[ends.length - 1];
    // Copied, so the held rest does not pin the whole chunk it came in.
    if (last < bytes.length) this.hold(Buffer.from(bytes.subarray(last)));
    return { bytes, ends };
  }

  // The common case, LF line ends only: jumps from LF to LF with the native search.
  private scanLF(chunk: Uint8Array, ends: number[]): void {
    let lineStart = this.lineStart;
    let pos = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, pos);
      if (lf === -1) {
        if (pos < chunk.length) lineStart = false;
        break;
      }
      if (lf === pos && lineStart) ends.push(lf + 1);
      lineStart = true;
      pos = lf + 1;
    }
    this.lineStart = lineStart;
  }

  // Any mix of CR, LF and CRLF, byte by byte.
  private scanAny(chunk: Uint8Array, ends: number[]): void {
    let lineStart = this.lineStart;
    let afterCR = this.afterCR;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === LF) {
        if (afterCR) {
          afterCR = false;
          // The LF of a CRLF whose CR ended a frame travels with that frame when both are in hand.
          if (ends.length > 0 && ends[ends.length - 1] === i) ends[ends.length - 1] = i + 1;
          continue;
        }
        if (lineStart) ends.push(i + 1);
        lineStart = true;
      } else if (b === CR) {
        if (lineStart) ends.push(i + 1);
        lineStart = true;
        afterCR = true;
      } else {
        lineStart = false;
        afterCR = false;
      }
    }
    this.lineStart = lineStart;
    this.afterCR = afterCR;
  }

  /** Signals the end of the body; returns the bytes of an unterminated last frame (possibly empty) and resets. */
  end(): Uint8Array {
    const rest = this.heldBytes === 0 ? NO_BYTES : Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    this.lineStart = true;
    this.afterCR = false;
    return rest;
  }

  private hold(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.heldBytes += bytes.length;
    if (this.heldBytes > MAX_FRAME_BYTES) throw new Error(`an upstream event exceeded ${MAX_FRAME_BYTES} bytes`);
    this.held.push(bytes);
  }
}
