// Incremental parser for text/event-stream bodies (WHATWG HTML "Server-sent events", §9.2.6).
// Hand-written because it sits on the hot path of every streamed chunk: it scans the decoded text in
// place, allocates only the strings it hands back, and never re-scans bytes it has already seen.

/** One dispatched server-sent event. `event` is absent for the default type ("message"). */
export interface SseEvent {
  event?: string;
  data: string;
  /** The stream's last event ID at dispatch time (it persists across events, as in the spec). */
  id?: string;
}

/** Parser options; the defaults follow the spec exactly. */
export interface SseParserOptions {
  /**
   * At end(), dispatch an event whose terminating blank line never arrived (and process an
   * unterminated last line). The spec discards it; a lenient reader may want the usage it carries.
   */
  dispatchIncompleteAtEnd?: boolean;
}

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;

// Shared result when a chunk completes no event, so the common case allocates nothing. Callers must not mutate it.
const NO_EVENTS = Object.freeze([]) as unknown as SseEvent[];

/** Turns a byte stream split at arbitrary points into the events the spec would dispatch. */
export class SseParser {
  // Non-fatal streaming decoder: holds partial UTF-8 sequences between chunks, strips one leading BOM,
  // and replaces invalid bytes with U+FFFD exactly as the spec's "UTF-8 decode" does.
  private readonly decoder = new TextDecoder('utf-8');
  private rest = ''; // text after the last line terminator (contains no CR or LF)
  private skipLF = false; // the previous text ended in CR: an LF starting the next text completes that CRLF
  private data = '';
  private hasData = false; // at least one data field since the last dispatch (the spec's non-empty data buffer)
  private eventType = '';
  private lastId = '';
  private readonly lenientEnd: boolean;

  constructor(options: SseParserOptions = {}) {
    this.lenientEnd = options.dispatchIncompleteAtEnd === true;
  }

  /** Feeds the next chunk of the body; returns the events it completed (possibly none; do not mutate). */
  push(chunk: Uint8Array): SseEvent[] {
    const text = this.decoder.decode(chunk, { stream: true });
    return text.length === 0 ? NO_EVENTS : this.feed(text);
  }

  /** Signals the end of the body; returns any last events and resets the parser for reuse. */
  end(): SseEvent[] {
    const tail = this.decoder.decode(); // flushes a dangling partial sequence as U+FFFD and resets the decoder
    let events = tail.length === 0 ? NO_EVENTS : this.feed(tail);
    if (this.lenientEnd) {
      let last: SseEvent | null = null;
      if (this.rest.length > 0) last = this.line(this.rest, 0, this.rest.length);
      if (last === null) last = this.dispatch();
      if (last !== null) events = events === NO_EVENTS ? [last] : [...events, last];
    }
    this.rest = '';
    this.skipLF = false;
    this.data = '';
    this.hasData = false;
    this.eventType = '';
    this.lastId = '';
    return events;
  }

  private feed(text: string): SseEvent[] {
    let buf: string;
    let pos = 0;
    let scan: number;
    if (this.rest.length > 0) {
      // The carried text has no terminators, so scanning resumes where the new text starts.
      buf = this.rest + text;
      scan = this.rest.length;
    } else {
      buf = text;
      if (this.skipLF) {
        this.skipLF = false;
        if (text.charCodeAt(0) === LF) pos = 1;
      }
      scan = pos;
    }
    const len = buf.length;
    let events: SseEvent[] | null = null;
    let cr = buf.indexOf('\r', scan);
    let lf = buf.indexOf('\n', scan);
    for (;;) {
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        end = cr;
        if (cr + 1 < len) {
          next = buf.charCodeAt(cr + 1) === LF ? cr + 2 : cr + 1;
        } else {
          next = len;
          this.skipLF = true;
        }
      } else if (lf !== -1) {
        end = lf;
        next = lf + 1;
      } else {
        break;
      }
      const ev = this.line(buf, pos, end);
      if (ev !== null) (events ??= []).push(ev);
      pos = next;
      if (cr !== -1 && cr < pos) cr = buf.indexOf('\r', pos);
      if (lf !== -1 && lf < pos) lf = buf.indexOf('\n', pos);
    }
    this.rest = pos < len ? buf.slice(pos) : '';
    return events ?? NO_EVENTS;
  }

  // Processes buf[start, end) as one line; returns an event when the line is blank and one is due.
  private line(buf: string, start: number, end: number): SseEvent | null {
    if (start === end) return this.dispatch();
    if (buf.charCodeAt(start) === COLON) return null; // comment, e.g. ": ping"
    let colon = start;
    while (colon < end && buf.charCodeAt(colon) !== COLON) colon++;
    const nameLen = colon - start;
    let valueStart = colon + 1;
    if (valueStart < end && buf.charCodeAt(valueStart) === SPACE) valueStart++;
    if (valueStart > end) valueStart = end; // no colon: the whole line is the field name, the value is ""
    if (nameLen === 4 && buf.startsWith('data', start)) {
      const value = buf.slice(valueStart, end);
      this.data = this.hasData ? this.data + '\n' + value : value;
      this.hasData = true;
    } else if (nameLen === 5 && buf.startsWith('event', start)) {
      this.eventType = buf.slice(valueStart, end);
    } else if (nameLen === 2 && buf.startsWith('id', start)) {
      const value = buf.slice(valueStart, end);
      if (!value.includes('\0')) this.lastId = value;
    }
    // "retry" and unknown fields are ignored: reconnection is the caller's business, not the parser's.
    return null;
  }

  private dispatch(): SseEvent | null {
    if (!this.hasData) {
      this.eventType = '';
      return null;
    }
    const ev: SseEvent = { data: this.data };
    if (this.eventType.length > 0) ev.event = this.eventType;
    if (this.lastId.length > 0) ev.id = this.lastId;
    this.data = '';
    this.hasData = false;
    this.eventType = '';
    return ev;
  }
}
