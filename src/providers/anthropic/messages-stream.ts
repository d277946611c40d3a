// The stream adapter for Anthropic's Messages stream, passed through to an Anthropic client.
// Usage: `message_start` carries the input and a first output count; every `message_delta` carries the
// cumulative output (and, in newer API versions, cumulative input): the last value counts, never a sum.
// Cache writes (`cache_creation_input_tokens`, split by TTL in `cache_creation`) ride along in the usage,
// so streamed calls bill them at the cache-write price as non-streamed ones do.
import { PASS, sseFrame, type ReportedUsage, type StreamAdapter, type StreamPeek, type StreamStep } from '../stream-adapter.js';
import type { SseEvent } from '../sse/index.js';
import { parseObject, withCacheWrites, withToolCalls, type JsonObject, type Usage } from '../usage.js';
import { anthropicUsageFields, anthropicUsageParts, mergeUsageFields, usagePartsOf, type AnthropicUsageFields } from './anthropic-usage.js';
import { fallbackAttempts, withAttempts, type ModelNames } from './fallback-usage.js';

/** One parsed Anthropic stream event, with the output text it carries. */
export interface AnthropicEvent {
  type: string;
  data: JsonObject;
  text?: string;
}

/** Reads the reported usage of a Messages stream and the output text of each event. */
export class AnthropicStreamReader {
  usage: ReportedUsage = { final: false };
  // The counts reported so far (message_start's, then each message_delta's taken over field by field).
  private fields: AnthropicUsageFields = {};
  /** `message_stop` arrived: the stream is complete. */
  ended = false;
  /** Index of the content block started (and delivered) and not yet stopped, if any. */
  openBlock: number | undefined;
  // A block start counts as open once the next event shows it was delivered: the relay may stop the
  // stream before delivering it (its tool name is output), and then no block is open on the client.
  private pendingBlock: number | undefined;
  // Web searches the stream has shown or reported: a stream that stops before its final usage (the
  // client left, the upstream failed) was still billed for the searches it ran.
  private searchesSeen = 0;

  /** `nameOf` names the models of a server-side fallback's attempts (fallback-usage.ts). */
  constructor(private readonly nameOf?: ModelNames) {}

  /** A `server_tool_use` block calling web search is one search billed, reported or not. */
  private countSearch(data: JsonObject): void {
    const block = data.content_block as JsonObject | undefined;
    if (block?.type !== 'server_tool_use' || block.name !== 'web_search') return;
    this.searchesSeen++;
    if ((this.usage.toolCalls?.web_search ?? 0) < this.searchesSeen) this.usage.toolCalls = { web_search: this.searchesSeen };
  }

  /** Parses one event, updating usage and the open block. Undefined for events that are not JSON. */
  read(ev: SseEvent): AnthropicEvent | undefined {
    if (this.pendingBlock !== undefined) this.openBlock = this.pendingBlock;
    this.pendingBlock = undefined;
    const data = parseObject(ev.data);
    if (!data) return undefined;
    const type = ev.event ?? (typeof data.type === 'string' ? data.type : '');
    switch (type) {
      case 'message_start': {
        const message = data.message as JsonObject | undefined;
        this.fields = anthropicUsageFields(message?.usage);
        const p = usagePartsOf(this.fields);
        // Cache writes are set only when reported: absent, never undefined-valued.
        this.usage = withToolCalls(withCacheWrites<ReportedUsage>({ input: p.input, cachedInput: p.cachedInput, output: p.output, final: false }, p), p);
        if (p.serviceTier) this.usage.serviceTier = p.serviceTier;
        if (p.inferenceGeo !== undefined) this.usage.inferenceGeo = p.inferenceGeo;
        return { type, data };
      }
      case 'content_block_start':
        this.pendingBlock = typeof data.index === 'number' ? data.index : undefined;
        this.countSearch(data);
        return { type, data, text: eventText(type, data) };
      case 'content_block_delta':
        return { type, data, text: eventText(type, data) };
      case 'content_block_stop':
        this.openBlock = undefined;
        return { type, data };
      case 'message_delta': {
        // Cumulative totals: each count the delta reports replaces the one before; one it leaves out (or
        // sends as null) keeps message_start's. Cache reads and writes are not dropped from the input when
        // a delta reports `input_tokens` alone, and its writes keep the 1-hour split message_start reported.
        const reported = anthropicUsageFields(data.usage);
        this.fields = mergeUsageFields(this.fields, reported);
        const p = usagePartsOf(this.fields);
        const before = this.usage;
        this.usage = withCacheWrites<ReportedUsage>({ input: p.input, cachedInput: p.cachedInput, output: p.output, final: reported.output !== undefined && p.input !== undefined }, p);
        // Web searches likewise: the delta's count is cumulative (the searches run before it); without one,
        // those seen so far stand.
        withToolCalls(this.usage, before);
        if (reported.webSearches !== undefined) withToolCalls(this.usage, p);
        this.searchesSeen = Math.max(this.searchesSeen, reported.webSearches ?? 0);
        // Fast mode and where the call ran, as message_start (or this delta) said.
        if (p.serviceTier) this.usage.serviceTier = p.serviceTier;
        if (p.inferenceGeo !== undefined) this.usage.inferenceGeo = p.inferenceGeo;
        // A server-side fallback reports its attempts in the final delta: each is billed (fallback-usage.ts).
        const attempts = fallbackAttempts(data.usage, this.nameOf);
        if (attempts) withAttempts(this.usage, attempts);
        return { type, data };
      }
      case 'message_stop':
        this.ended = true;
        return { type, data };
      default:
        return { type, data };
    }
  }
}

/** The generated text an event carries: a block's start (a tool call's name is output too), a delta's text, tool input JSON or thinking. */
function eventText(type: string, data: JsonObject): string | undefined {
  let text: unknown;
  if (type === 'content_block_start') {
    const block = data.content_block as JsonObject | undefined;
    text = block?.type === 'tool_use' ? block.name : block?.text;
  } else if (type === 'content_block_delta') {
    const delta = data.delta as JsonObject | undefined;
    text = delta?.type === 'text_delta' ? delta.text : delta?.type === 'input_json_delta' ? delta.partial_json : delta?.type === 'thinking_delta' ? delta.thinking : undefined;
  }
  return typeof text === 'string' && text.length > 0 ? text : undefined;
}

/** StreamAdapter.peek for Messages streams, whichever format the client gets. */
export function peekAnthropic(ev: SseEvent): StreamPeek {
  const data = parseObject(ev.data);
  if (!data) return {};
  const type = ev.event ?? (typeof data.type === 'string' ? data.type : '');
  if (type === 'message_delta') return { output: anthropicUsageParts(data.usage).output };
  if (type === 'error') return { failed: anthropicErrorMessage(data) };
  return { text: eventText(type, data) };
}

/** An Anthropic error event's message. */
export function anthropicErrorMessage(data: JsonObject): string {
  const error = data.error as JsonObject | undefined;
  return typeof error?.message === 'string' ? error.message : 'the upstream reported an error';
}

/** Native pass-through: the client speaks Anthropic too. */
export class AnthropicMessagesStream implements StreamAdapter {
  private readonly reader: AnthropicStreamReader;

  /** `nameOf` names the models of a server-side fallback's attempts (fallback-usage.ts). */
  constructor(nameOf?: ModelNames) {
    this.reader = new AnthropicStreamReader(nameOf);
  }

  get usage(): ReportedUsage {
    return this.reader.usage;
  }

  get ended(): boolean {
    return this.reader.ended;
  }

  /** Nothing follows `message_stop`. */
  get closed(): boolean {
    return this.reader.ended;
  }

  step(ev: SseEvent): StreamStep {
    const e = this.reader.read(ev);
    if (!e) return PASS;
    if (e.type === 'error') return { out: 'pass', failed: anthropicErrorMessage(e.data) };
    return e.text ? { text: e.text, out: 'pass' } : PASS;
  }

  peek(ev: SseEvent): StreamPeek {
    return peekAnthropic(ev);
  }

  cutoff(usage: Usage): string {
    let out = '';
    if (this.reader.openBlock !== undefined) out += sseFrame({ type: 'content_block_stop', index: this.reader.openBlock }, 'content_block_stop');
    out += sseFrame({ type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: usage.output } }, 'message_delta');
    return out + sseFrame({ type: 'message_stop' }, 'message_stop');
  }

  failure(message: string): string {
    return sseFrame({ type: 'error', error: { type: 'api_error', message } }, 'error');
  }
}
