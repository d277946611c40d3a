// Relays an upstream SSE stream to the client frame by frame: kept frames go out byte for byte as they
// came, the adapter may drop or replace others (the usage chunk the client did not ask for, a
// translation), output is metered as it passes, and the stream is ended cleanly at the output cap
// (past a mere estimate of it, frames are held back until the provider's own count decides: held-frames.ts).
// Memory per stream is bounded (one incomplete frame, a bounded token-counter tail, what is held at the
// cap: 1-16 MiB by the allowance), and a slow client slows the upstream read: nothing is read while the
// client's socket is full.
import type { ServerResponse } from 'node:http';
import { encodeSseEvent, SseFramer, SseParser, type SseEvent } from '../providers/sse/index.js';
import { SecretMask } from '../providers/secret-mask.js';
import type { StreamAdapter, StreamStep } from '../providers/stream-adapter.js';
import { withAudio, withCacheWrites, type PricedTier, type ToolCalls, type Usage } from '../providers/usage.js';
import type { OutputText, OutputTokenCounter } from '../tokens/choice-counter.js';
import { HeldFrames, type HeldFrame } from './held-frames.js';

const LF = 10;
const CR = 13;

export interface RelayOptions {
  adapter: StreamAdapter;
  /** Meters output text as it passes (one per stream). */
  counter: OutputTokenCounter;
  /** Output tokens the client may receive: the stream is ended cleanly before it would exceed them. */
  cap?: number;
  /** Input tokens to settle when the provider reports none. */
  inputFallback: () => number;
  /** The provider's secrets, masked in its error events (none when omitted). */
  secrets?: SecretMask;
  /** Stops the upstream request: a body left open after the stream's last event is ended with it. */
  stopUpstream?: () => void;
}

/** How long a body left open after the stream's last event is read on, apart from the answer, before it is stopped. */
const LEFT_OPEN_GRACE_MS = 5_000;

/** How a relayed stream ended. */
export type StreamEnd = 'complete' | 'cut_at_limit' | 'client_gone' | 'upstream_failed';

export interface RelayResult {
  usage: Usage;
  outcome: StreamEnd;
  /** The failure the upstream reported or caused, when it did. */
  failure?: string;
  /** The upstream sent output or its final usage: it worked on the request, so it is charged even if it failed. */
  produced: boolean;
}

/** Writes the upstream stream to `res` (not ending it unless the client left); resolves with the usage to settle. */
export async function relayStream(body: AsyncIterable<Uint8Array>, res: ServerResponse, opts: RelayOptions): Promise<RelayResult> {
  const relay = new Relay(opts);
  let outcome: StreamEnd = 'complete';
  const fail = (message: string): void => {
    outcome = 'upstream_failed';
    relay.failure ??= message;
    res.write(opts.adapter.failure(relay.failure));
  };
  const upstream = body[Symbol.asyncIterator]();
  // Leaving the loop otherwise than at the body's end (or after handing it over) ends the body, as a
  // `break` out of `for await` would: the provider stops generating.
  let bodyDone = false;
  let closed = false;
  try {
    for (;;) {
      const next = await upstream.next();
      if (next.done) {
        bodyDone = true;
        break;
      }
      const chunk = next.value;
      // A client that left still has this chunk counted: the provider produced it.
      const deliver = !res.destroyed;
      const failedFirst = relay.failure !== undefined;
      const out = relay.chunk(chunk, deliver);
      if (!deliver) {
        outcome = gone(failedFirst);
        break;
      }
      if (out !== undefined && !res.write(out) && !res.destroyed) await drained(res);
      if (relay.cut) {
        outcome = 'cut_at_limit';
        break; // leaving the loop destroys the upstream body: the provider stops generating
      }
      // The provider's error event has gone out (or frames were held when it failed): the answer is over.
      // Real providers close the connection then; one that does not would hold the client, and the call's
      // reservation, until timeout_ms. Leaving the loop closes the upstream request.
      if (relay.failure !== undefined) {
        outcome = 'upstream_failed';
        break;
      }
      // The stream's last event has gone out: the answer is whole. A provider ends its body right after; one
      // that leaves it open (or sends more) would hold the client and the reservation until timeout_ms, and
      // what it sent after would be relayed and charged. The rest is read apart, where its end still returns
      // the connection to the pool, and stopped after a grace period.
      if (opts.adapter.closed) {
        closed = bodyDone = true;
        // A last frame ended by the CR of a CRLF split across reads: its LF, which the rest would have brought.
        if (relay.endsInCR && !res.destroyed) res.write('\n');
        readRestApart(upstream, opts.stopUpstream);
        break;
      }
    }
    if (!bodyDone) await upstream.return?.();
    if (outcome === 'complete' && !closed) {
      const out = relay.end();
      if (out !== undefined && !res.destroyed) res.write(out);
      if (relay.cut) outcome = 'cut_at_limit';
      // A body that ends cleanly before the stream's last event was cut short all the same: the client
      // must hear of it (the SDKs otherwise fail on a missing finish reason, or not at all).
      else if (!opts.adapter.ended && relay.failure === undefined && !res.destroyed) fail('The upstream stream ended before its last event.');
    }
  } catch (err) {
    if (!bodyDone) void upstream.return?.().catch(() => undefined);
    if (res.destroyed) outcome = gone(relay.failure !== undefined);
    // The connection dropped after the stream's last event: the client has everything, nothing failed.
    else if (!opts.adapter.ended) fail(`The upstream stream failed: ${(err as Error).message}`);
  }
  if (outcome === 'complete' && relay.failure !== undefined) outcome = 'upstream_failed';
  if (outcome === 'complete' && res.destroyed) outcome = 'client_gone';
  if (outcome === 'client_gone' && !res.destroyed) res.destroy();
  // Output, or the provider's final figures. Input reported up front (Anthropic's message_start) is not
  // work done: a stream that fails right after it (an overloaded_error) is refunded, as on OpenAI.
  const produced = opts.adapter.usage.final || opts.counter.count() > 0;
  return { usage: relay.usage(outcome), outcome, produced, ...(relay.failure !== undefined ? { failure: relay.failure } : {}) };
}

/** Reads a body on after the stream's last event, discarding it, until it ends or the grace period passes. */
function readRestApart(upstream: AsyncIterator<Uint8Array>, stop: (() => void) | undefined): void {
  const timer = setTimeout(() => stop?.(), LEFT_OPEN_GRACE_MS);
  timer.unref();
  void (async () => {
    try {
      while (!(await upstream.next()).done);
    } catch {
      // Stopped, or failed after the answer was whole: nothing is lost.
    } finally {
      clearTimeout(timer);
    }
  })();
}

/**
 * How a stream whose client left ended: the provider's failure when it had already reported one (an SDK
 * stops reading at an error event, often before the provider closes the connection), else the client's leaving.
 */
function gone(failedFirst: boolean): StreamEnd {
  return failedFirst ? 'upstream_failed' : 'client_gone';
}

/** Resolves when `res` can take more, or is gone (a client that left). */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** The per-stream state: framing, parsing, metering and the cut decision. */
class Relay {
  private readonly framer = new SseFramer();
  private readonly parser = new SseParser({ dispatchIncompleteAtEnd: true });
  cut = false;
  failure: string | undefined;
  private endedInCR = false; // the last frame ended with a CR
  get endsInCR(): boolean {
    return this.endedInCR;
  }
  private replaced = false; // the last frame was dropped or replaced
  // Past the cap by an estimate only: frames held back until the provider's own count decides.
  private held: HeldFrames | undefined;
  // The frame whose event crossed the cap, up to that event (set by `events`, held by the caller).
  private crossing: Omit<HeldFrame, 'frame'> | undefined;
  // The provider's final count said the stream stays within the cap: no more checks.
  private confirmed = false;
  /** The provider failed while frames were held: the client has been told, nothing more is read. */
  stopped = false;

  private readonly secrets: SecretMask;

  constructor(private readonly opts: RelayOptions) {
    opts.adapter.useCount?.(() => this.usage('complete'));
    this.secrets = opts.secrets ?? SecretMask.NONE;
  }

  /** Processes one upstream chunk; returns what the client gets (undefined: nothing yet). */
  chunk(chunk: Uint8Array, deliver: boolean): Uint8Array | string | undefined {
    const { bytes, ends } = this.framer.push(chunk);
    if (ends.length === 0) return undefined;
    const pieces: Array<Uint8Array | string> = [];
    let runStart = 0; // start of the current run of frames kept as they came
    let prev = 0;
    for (const end of ends) {
      const frame = bytes.subarray(prev, end);
      const events = this.parser.push(frame);
      const holding = this.held !== undefined;
      const replacement = holding ? undefined : this.events(events, 0, undefined, undefined, deliver);
      if (this.cut) break;
      if (this.held) {
        // Held (already, or from its crossing event on): what came before it goes out now.
        if (prev > runStart) pieces.push(bytes.subarray(runStart, prev));
        runStart = prev = end;
        pieces.push(...this.hold(holding ? { frame, events, from: 0 } : { frame, ...this.crossing! }));
        if (this.cut || this.stopped || this.opts.adapter.closed) break;
        continue;
      }
      const piece = this.piece(frame, replacement);
      if (piece !== undefined) {
        if (prev > runStart) pieces.push(bytes.subarray(runStart, prev));
        if (piece.length > 0) pieces.push(piece);
        runStart = end;
      }
      prev = end;
      // Frames after the stream's last event are neither delivered nor read.
      if (this.opts.adapter.closed) break;
    }
    if (prev > runStart) pieces.push(bytes.subarray(runStart, prev));
    if (this.cut) pieces.push(this.opts.adapter.cutoff(this.usage('cut_at_limit')));
    return joined(pieces);
  }

  /** The upstream ended: processes an unterminated last frame, if any, and decides on held frames. */
  end(): Uint8Array | string | undefined {
    const rest = this.framer.end();
    const events = [...this.parser.push(rest), ...this.parser.end()];
    const pieces: Array<Uint8Array | string> = [];
    if (rest.length > 0 || events.length > 0) {
      const holding = this.held !== undefined;
      const replacement = holding ? undefined : this.events(events, 0, undefined, undefined, true);
      if (this.held) pieces.push(...this.hold(holding ? { frame: rest, events, from: 0 } : { frame: rest, ...this.crossing! }));
      else if (!this.cut) pieces.push(this.piece(rest, replacement) ?? rest);
    }
    // Still held: the stream ended without the provider's count showing it stayed within the cap.
    if (this.held && !this.stopped) {
      this.held = undefined;
      this.cut = true;
    }
    if (this.cut) pieces.push(this.opts.adapter.cutoff(this.usage('cut_at_limit')));
    return joined(pieces);
  }

  /** Holds one more frame; returns what goes out (everything held, once released). Sets `cut` when it ends there. */
  private hold(frame: HeldFrame): Array<Uint8Array | string> {
    const held = this.held!;
    this.crossing = undefined;
    const verdict = held.add(frame);
    if (verdict === 'hold') return [];
    if (verdict === 'fail') {
      // The held output is not delivered (unconfirmed, and the answer is broken anyway) but stays counted.
      const message = this.secrets.text(held.failure!);
      this.failure ??= message;
      this.stopped = true;
      return [this.opts.adapter.failure(message)];
    }
    this.held = undefined;
    if (verdict === 'cut') {
      this.cut = true;
      return [];
    }
    this.confirmed = true;
    const out: Array<Uint8Array | string> = [];
    for (const h of held.frames) {
      const piece = this.piece(h.frame, this.events(h.events, h.from, h.replacement, h.stepped, true));
      if (piece === undefined) out.push(h.frame);
      else if (piece.length > 0) out.push(piece);
    }
    return out;
  }

  /**
   * What replaces `frame` on the wire, or undefined to send it as it came. A CRLF split across two
   * frames (the LF arriving first in the next one) stays with the frame its CR ended, kept or not.
   */
  private piece(frame: Uint8Array, replacement: string | undefined): Uint8Array | string | undefined {
    const strayLF = this.endedInCR && frame[0] === LF;
    const previousReplaced = this.replaced;
    this.endedInCR = frame[frame.length - 1] === CR;
    this.replaced = replacement !== undefined;
    if (!strayLF) return replacement;
    if (replacement !== undefined) return previousReplaced ? replacement : '\n' + replacement;
    return previousReplaced ? frame.subarray(1) : undefined;
  }

  /** Usage to settle for a stream that ended this way. */
  usage(outcome: StreamEnd): Usage {
    const reported = this.opts.adapter.usage;
    // Settlement uses the provider's numbers whenever it sent its final ones, except when the gateway
    // cut the stream: then exactly what was delivered is charged.
    // Cache writes (Anthropic) are reported with the input and go with it in either case; they are added
    // only when reported, so other providers' usage keeps one shape.
    if (reported.final && outcome !== 'cut_at_limit' && reported.input !== undefined && reported.output !== undefined) {
      const settled = withReportedBilling(withAudio(withCacheWrites<Usage>({ input: reported.input, output: reported.output, cachedInput: reported.cachedInput ?? 0, source: 'provider' }, reported), reported), reported);
      // Anthropic's fallback attempts (the input and output above are their sums): each priced at its own model.
      if (reported.attempts) settled.attempts = reported.attempts;
      return settled;
    }
    return withReportedBilling(withCacheWrites<Usage>({ input: reported.input ?? this.opts.inputFallback(), output: this.producedOutput(outcome), cachedInput: reported.cachedInput ?? 0, source: 'estimated' }, reported), reported);
  }

  /**
   * Output to charge without the provider's count: what was delivered, and when a client left or the
   * upstream failed while frames were held, those too (the provider produced them). The estimate of the
   * two is capped where the provider, told max_tokens = cap, must have stopped: the cap, or the
   * tokenizer's own (lower) count when even that passed it.
   */
  private producedOutput(outcome: StreamEnd): number {
    const delivered = this.opts.counter.count();
    const held = this.held;
    if (outcome === 'cut_at_limit' || !held || this.opts.cap === undefined) return delivered;
    return Math.min(delivered + held.count(), Math.max(this.opts.cap, this.opts.counter.rawCount() + held.rawCount()));
  }

  /**
   * Runs a frame's events from `from` through the adapter; returns the frame's replacement, or undefined
   * to keep it as is. `stepped` is the step already taken for the event at `from`, and `replacement`
   * what the events before it produced (a held frame resuming).
   */
  private events(events: SseEvent[], from: number, replacement: string | undefined, stepped: StreamStep | undefined, deliver: boolean): string | undefined {
    for (let k = from; k < events.length; k++) {
      const ev = events[k];
      const resumed = k === from ? stepped : undefined;
      const step = resumed ?? this.opts.adapter.step(ev);
      let out = step.out;
      // An error event may quote the gateway's key (secret-mask.ts); only those are scanned, not the output.
      if (step.failed !== undefined) {
        this.failure ??= this.secrets.text(step.failed);
        out = maskedOut(out, ev, this.secrets);
      }
      if (step.text) {
        if (!resumed && deliver && this.passesCap(step.text)) {
          const { counter, cap } = this.opts;
          // An exact count past the cap is the provider not stopping: end here. An estimate may be wrong.
          if (!counter.estimated) this.cut = true;
          else {
            this.held = new HeldFrames(this.opts.adapter, counter, cap!);
            this.crossing = { events, from: k, stepped: step, replacement };
          }
          return undefined;
        }
        this.opts.counter.add(step.text);
      }
      if (out !== 'pass' || replacement !== undefined || events.length > 1) {
        replacement ??= '';
        replacement += out === 'pass' ? encodeSseEvent({ event: ev.event, data: ev.data }) : out === 'drop' ? '' : out;
      }
    }
    return replacement;
  }

  /** Whether delivering `text` would pass the output cap (the exact count is needed only when the cheap bound says it might). */
  private passesCap(text: OutputText): boolean {
    const { counter, cap } = this.opts;
    return !this.confirmed && cap !== undefined && counter.boundWith(text) > cap && counter.countWith(text) > cap;
  }
}

/**
 * `usage` with the priced service tier and the tool calls billed per call the provider reported, if any
 * (absent otherwise: one object shape). Tool calls count however the stream ended: they ran before.
 */
function withReportedBilling(usage: Usage, reported: { serviceTier?: PricedTier; inferenceGeo?: string; toolCalls?: ToolCalls }): Usage {
  if (reported.serviceTier) usage.serviceTier = reported.serviceTier;
  if (reported.inferenceGeo !== undefined) usage.inferenceGeo = reported.inferenceGeo;
  if (reported.toolCalls) usage.toolCalls = reported.toolCalls;
  return usage;
}

/** What the client gets for an error event, with the secrets masked: `pass` still when it holds none. */
function maskedOut(out: StreamStep['out'], ev: SseEvent, secrets: SecretMask): StreamStep['out'] {
  if (out === 'drop') return out;
  if (out !== 'pass') return secrets.text(out);
  const data = secrets.text(ev.data);
  return data === ev.data ? out : encodeSseEvent({ event: ev.event, data });
}

/** The pieces as one write (undefined when there are none). */
function joined(pieces: Array<Uint8Array | string>): Uint8Array | string | undefined {
  if (pieces.length === 0) return undefined;
  return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
}
