// How the gateway's stream relay talks to a wire format: one adapter per stream reads each upstream
// event (usage, output text, failures), says what the client gets for it, and writes the endings the
// gateway itself must produce (a clean stop at the output cap, a mid-stream failure).
import { encodeSseEvent } from './sse/encode-sse-event.js';
import type { SseEvent } from './sse/index.js';
import type { OutputText } from '../tokens/choice-counter.js';
import type { AttemptUsage, AudioUsage, CacheWriteUsage, PricedTier, ToolCalls, Usage } from './usage.js';

/** What to do with one upstream event. */
export interface StreamStep {
  /** Output text the event carries (each choice's, when several): metered against the cap before the event is delivered. */
  text?: OutputText;
  /** `pass`: the upstream frame exactly as it came; `drop`: nothing; a string: these frames instead. */
  out: 'pass' | 'drop' | string;
  /** The event reports a failure after the 200 (it is still delivered as `out` says). */
  failed?: string;
}

/** What the provider has reported about usage so far (cache writes only when it reported some). */
export interface ReportedUsage extends CacheWriteUsage, AudioUsage {
  input?: number;
  cachedInput?: number;
  output?: number;
  /** The provider's final figures arrived: settle with them. */
  final: boolean;
  /** The tier that served the call, when it changes the price. */
  serviceTier?: PricedTier;
  /** Where Anthropic ran the call (`usage.inference_geo`), when it said. */
  inferenceGeo?: string;
  /** Tool calls billed per call, as reported so far. */
  toolCalls?: ToolCalls;
  /** Anthropic's server-side fallback: the model attempts the final usage reported (usage.ts Usage.attempts). */
  attempts?: readonly AttemptUsage[];
}

/** What an event would add, read without changing the adapter's state (see StreamAdapter.peek). */
export interface StreamPeek {
  /** Output text the event carries (each choice's, when several). */
  text?: OutputText;
  /** The provider's final output count, when the event reports it. */
  output?: number;
  /** The event reports a failure (its message). */
  failed?: string;
}

/** One stream's reader and writer for a wire format. */
export interface StreamAdapter {
  step(ev: SseEvent): StreamStep;
  /**
   * Reads an event the relay holds back without stepping it: the adapter's state must keep describing
   * what was delivered, so that a cut after it ends the stream consistently.
   */
  peek(ev: SseEvent): StreamPeek;
  readonly usage: ReportedUsage;
  /**
   * The upstream sent its stream's last event (`[DONE]`, `message_stop`, the Responses terminal event):
   * a connection that drops after it lost nothing, and one that ends cleanly before it was cut short.
   */
  readonly ended: boolean;
  /**
   * The event after which nothing belongs to the stream arrived (`[DONE]`, `message_stop`, the Responses
   * terminal event; not merely every choice finished, which a usage chunk may follow): the relay reads no further.
   */
  readonly closed: boolean;
  /** The id under which the provider stored the response (Responses API), once known. */
  readonly responseId?: string;
  /** Frames that end the stream cleanly when the gateway stops it at the output cap (`usage`: what was delivered). */
  cutoff(usage: Usage): string;
  /** Frames telling the client that the upstream failed mid-stream. */
  failure(message: string): string;
  /** Gives the adapter the gateway's own usage figures, for usage it must report when the provider sent none. */
  useCount?(count: () => Usage): void;
}

/** The step for events that pass untouched and carry no output. */
export const PASS: StreamStep = Object.freeze({ out: 'pass' });
/** The step for events the client must not see. */
export const DROP: StreamStep = Object.freeze({ out: 'drop' });

/** An SSE frame for `data` (JSON-serialised unless a string), with an event name when given. */
export function sseFrame(data: unknown, event?: string): string {
  return encodeSseEvent({ event, data: typeof data === 'string' ? data : JSON.stringify(data) });
}
