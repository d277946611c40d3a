// The stream adapter for the Responses API (`/v1/responses`): typed events with sequence numbers, usage
// in `response.completed` (or `.incomplete` / `.failed`). To end a stream at the output cap the gateway
// closes what is open as the API does when it reaches `max_output_tokens` (`.done` events for each
// open text part, function call arguments and output item, the item `incomplete`), then writes
// `response.incomplete` with the output delivered so far (never more than the cap allows), in the
// shape the SDKs accumulate, numbering its events on from the last one delivered.
import { PASS, sseFrame, type ReportedUsage, type StreamAdapter, type StreamPeek, type StreamStep } from '../stream-adapter.js';
import type { SseEvent } from '../sse/index.js';
import { parseObject, withCacheWrites, type JsonObject, type Usage } from '../usage.js';
import { openAIUsage, pricedTier } from './openai-usage.js';
import { toolCallsIn, type BilledTools } from './tool-fees.js';

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

// Deltas that carry generated text (audio deltas carry base64 audio, billed differently and not countable here).
const TEXT_DELTA = /^response\.(?!audio\.)[a-z_.]+\.delta$/;

/** Reads usage and output text from Responses API events. */
export class ResponsesStream implements StreamAdapter {
  usage: ReportedUsage = { final: false };
  /** The terminal event (`response.completed`, `.incomplete`, `.failed`) arrived. */
  ended = false;
  /** Nothing follows the terminal event. */
  get closed(): boolean {
    return this.ended;
  }
  private response: JsonObject | undefined;
  // The sequence number of the last event delivered.
  private sequence = -1;
  private readonly items: JsonObject[] = [];
  // Content parts already closed by the provider (`response.content_part.done`), as "output:content".
  private readonly partsDone = new Set<string>();
  // The last event's change to the items, applied once the next event shows it was delivered: the relay
  // may stop before delivering an event, and then the output it reports must not include it.
  private pending: (() => void) | undefined;

  /** `tools`: the per-call-billed tools the request offers, whose calls settle with the usage. */
  constructor(private readonly tools?: BilledTools) {}

  get responseId(): string | undefined {
    const id = this.response?.id;
    return typeof id === 'string' ? id : undefined;
  }

  step(ev: SseEvent): StreamStep {
    this.pending?.();
    this.pending = undefined;
    const e = parseObject(ev.data);
    if (!e) return PASS;
    const sequence = typeof e.sequence_number === 'number' ? e.sequence_number : undefined;
    const type = typeof e.type === 'string' ? e.type : ev.event ?? '';
    // Only output events can be held back at the cap; the others are delivered as they come.
    const delivered = (): void => {
      if (sequence !== undefined) this.sequence = sequence;
    };
    if (type === 'error') {
      delivered();
      return { out: 'pass', failed: typeof e.message === 'string' ? e.message : 'the upstream reported an error' };
    }
    if (type === 'response.created' || type === 'response.in_progress') {
      delivered();
      if (isObject(e.response)) this.response = e.response;
      return PASS;
    }
    if (TERMINAL.has(type)) {
      delivered();
      this.ended = true;
      const reported = isObject(e.response) ? openAIUsage(e.response.usage) : undefined;
      if (reported) {
        this.usage = withCacheWrites<ReportedUsage>({ input: reported.input, cachedInput: reported.cachedInput, output: reported.output, final: true }, reported);
        const tier = pricedTier((e.response as JsonObject).service_tier);
        if (tier) this.usage.serviceTier = tier;
        const calls = this.tools && toolCallsIn((e.response as JsonObject).output, this.tools);
        if (calls) this.usage.toolCalls = calls;
      }
      return type === 'response.failed' ? { out: 'pass', failed: failureOf(e.response) } : PASS;
    }
    this.pending = () => {
      delivered();
      this.track(type, e);
    };
    if (typeof e.delta === 'string' && TEXT_DELTA.test(type)) return { text: e.delta, out: 'pass' };
    return PASS;
  }

  peek(ev: SseEvent): StreamPeek {
    const e = parseObject(ev.data);
    if (!e) return {};
    const type = typeof e.type === 'string' ? e.type : ev.event ?? '';
    if (typeof e.delta === 'string' && TEXT_DELTA.test(type)) return { text: e.delta };
    if (type === 'error') return { failed: typeof e.message === 'string' ? e.message : 'the upstream reported an error' };
    if (type === 'response.failed') return { failed: failureOf(e.response) };
    if (TERMINAL.has(type) && isObject(e.response)) return { output: openAIUsage(e.response.usage)?.output };
    return {};
  }

  cutoff(usage: Usage): string {
    // The event being stepped is the one the cap held back: it was not delivered.
    this.pending = undefined;
    let frames = '';
    const emit = (event: JsonObject): void => {
      frames += sseFrame({ type: event.type, sequence_number: ++this.sequence, ...event }, event.type as string);
    };
    const output: JsonObject[] = [];
    this.items.forEach((item, index) => {
      if (!isObject(item)) return;
      if (item.status !== 'in_progress') return void output.push(item);
      const id = item.id;
      if (Array.isArray(item.content)) {
        item.content.forEach((part, content) => {
          if (!isObject(part) || this.partsDone.has(`${index}:${content}`)) return;
          const at = { item_id: id, output_index: index, content_index: content };
          if (part.type === 'output_text') emit({ type: 'response.output_text.done', ...at, text: part.text ?? '', logprobs: part.logprobs ?? [] });
          else if (part.type === 'refusal') emit({ type: 'response.refusal.done', ...at, refusal: part.refusal ?? '' });
          emit({ type: 'response.content_part.done', ...at, part });
        });
      }
      // With its `name`, as the API sends it (the SDKs declare it required).
      if (item.type === 'function_call') emit({ type: 'response.function_call_arguments.done', item_id: id, output_index: index, name: item.name ?? '', arguments: item.arguments ?? '' });
      const closed = { ...item, status: 'incomplete' };
      emit({ type: 'response.output_item.done', output_index: index, item: closed });
      output.push(closed);
    });
    const response = {
      ...(this.response ?? { id: 'resp_tollgate', object: 'response' }),
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      output,
      usage: {
        input_tokens: usage.input,
        // Every detail the API reports (the SDKs declare cache_write_tokens required since GPT-5.6's cache writes).
        input_tokens_details: { cached_tokens: usage.cachedInput, cache_write_tokens: usage.cacheWriteInput ?? 0 },
        output_tokens: usage.output,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: usage.input + usage.output,
      },
    };
    emit({ type: 'response.incomplete', response });
    return frames;
  }

  failure(message: string): string {
    // The upstream failed after its last event, which was delivered.
    this.pending?.();
    this.pending = undefined;
    return sseFrame({ type: 'error', sequence_number: this.sequence + 1, code: 'upstream_error', message, param: null }, 'error');
  }

  // Mirrors what the SDKs accumulate, for the events that build output items.
  private track(type: string, e: JsonObject): void {
    const index = typeof e.output_index === 'number' ? e.output_index : -1;
    if (type === 'response.output_item.added' || type === 'response.output_item.done') {
      if (index >= 0 && isObject(e.item)) this.items[index] = structuredClone(e.item);
      // A stream that stops before its usage (the client left) was still billed for the calls it made.
      if (this.tools && !this.usage.final) {
        const calls = toolCallsIn(this.items, this.tools);
        if (calls) this.usage.toolCalls = calls;
      }
      return;
    }
    const item = this.items[index];
    if (!item) return;
    const part = typeof e.content_index === 'number' && Array.isArray(item.content) ? (item.content[e.content_index] as JsonObject | undefined) : undefined;
    switch (type) {
      case 'response.content_part.done':
        if (typeof e.content_index === 'number') this.partsDone.add(`${index}:${e.content_index}`);
        break;
      case 'response.content_part.added':
        if (isObject(e.part) && typeof e.content_index === 'number') ((item.content ??= []) as unknown[])[e.content_index] = structuredClone(e.part);
        break;
      case 'response.output_text.delta':
        if (part) part.text = String(part.text ?? '') + String(e.delta ?? '');
        break;
      case 'response.refusal.delta':
        if (part) part.refusal = String(part.refusal ?? '') + String(e.delta ?? '');
        break;
      case 'response.function_call_arguments.delta':
        item.arguments = String(item.arguments ?? '') + String(e.delta ?? '');
        break;
      default:
        break;
    }
  }
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function failureOf(response: unknown): string {
  const error = isObject(response) ? response.error : undefined;
  return isObject(error) && typeof error.message === 'string' ? error.message : 'the upstream response failed';
}
