// The stream adapter for the Responses API (`/v1/responses`): typed events with sequence numbers, usage
// in `response.completed` (or `.incomplete` / `.failed`). To end a stream at the output cap the gateway
// writes `response.incomplete` with the output delivered so far, so it keeps that output (never more
// than the cap allows) in the same shape the SDKs accumulate.
import { PASS, sseFrame, type ReportedUsage, type StreamAdapter, type StreamStep } from '../stream-adapter.js';
import type { SseEvent } from '../sse/index.js';
import { parseObject, type JsonObject, type Usage } from '../usage.js';
import { openAIUsage } from './openai-usage.js';

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

// Deltas that carry generated text (audio deltas carry base64 audio, billed differently and not countable here).
const TEXT_DELTA = /^response\.(?!audio\.)[a-z_.]+\.delta$/;

/** Reads usage and output text from Responses API events. */
export class ResponsesStream implements StreamAdapter {
  usage: ReportedUsage = { final: false };
  private response: JsonObject | undefined;
  private sequence = -1;
  private readonly items: JsonObject[] = [];
  // The last event's change to the items, applied once the next event shows it was delivered: the relay
  // may stop before delivering an event, and then the output it reports must not include it.
  private pending: (() => void) | undefined;

  step(ev: SseEvent): StreamStep {
    this.pending?.();
    this.pending = undefined;
    const e = parseObject(ev.data);
    if (!e) return PASS;
    if (typeof e.sequence_number === 'number') this.sequence = e.sequence_number;
    const type = typeof e.type === 'string' ? e.type : ev.event ?? '';
    if (type === 'error') return { out: 'pass', failed: typeof e.message === 'string' ? e.message : 'the upstream reported an error' };
    if (type === 'response.created' || type === 'response.in_progress') {
      if (isObject(e.response)) this.response = e.response;
      return PASS;
    }
    if (TERMINAL.has(type)) {
      const reported = isObject(e.response) ? openAIUsage(e.response.usage) : undefined;
      if (reported) this.usage = { input: reported.input, cachedInput: reported.cachedInput, output: reported.output, final: true };
      return type === 'response.failed' ? { out: 'pass', failed: failureOf(e.response) } : PASS;
    }
    this.pending = () => this.track(type, e);
    if (typeof e.delta === 'string' && TEXT_DELTA.test(type)) return { text: e.delta, out: 'pass' };
    return PASS;
  }

  cutoff(usage: Usage): string {
    this.pending = undefined;
    const output = this.items.filter(isObject).map((item) => (item.status === 'in_progress' ? { ...item, status: 'incomplete' } : item));
    const response = {
      ...(this.response ?? { id: 'resp_tollgate', object: 'response' }),
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      output,
      usage: {
        input_tokens: usage.input,
        input_tokens_details: { cached_tokens: usage.cachedInput },
        output_tokens: usage.output,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: usage.input + usage.output,
      },
    };
    return sseFrame({ type: 'response.incomplete', sequence_number: this.sequence + 1, response }, 'response.incomplete');
  }

  failure(message: string): string {
    return sseFrame({ type: 'error', sequence_number: this.sequence + 1, code: 'upstream_error', message, param: null }, 'error');
  }

  // Mirrors what the SDKs accumulate, for the events that build output items.
  private track(type: string, e: JsonObject): void {
    const index = typeof e.output_index === 'number' ? e.output_index : -1;
    if (type === 'response.output_item.added' || type === 'response.output_item.done') {
      if (index >= 0 && isObject(e.item)) this.items[index] = structuredClone(e.item);
      return;
    }
    const item = this.items[index];
    if (!item) return;
    const part = typeof e.content_index === 'number' && Array.isArray(item.content) ? (item.content[e.content_index] as JsonObject | undefined) : undefined;
    switch (type) {
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
