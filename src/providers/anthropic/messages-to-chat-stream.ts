// Anthropic Messages stream → OpenAI `chat.completion.chunk` stream, for OpenAI clients of Claude models.
import { DROP, sseFrame, type ReportedUsage, type StreamAdapter, type StreamPeek, type StreamStep } from '../stream-adapter.js';
import type { SseEvent } from '../sse/index.js';
import type { JsonObject, Usage } from '../usage.js';
import { AnthropicStreamReader, anthropicErrorMessage, peekAnthropic } from './messages-stream.js';
import { chatUsageOf } from './message-to-chat.js';
import { finishReason } from './map-stop-reason.js';

/** Translates each Anthropic event into the chat chunks an OpenAI client expects. */
export class MessagesToChatStream implements StreamAdapter {
  private readonly reader = new AnthropicStreamReader();
  private id = 'chatcmpl-tollgate';
  private model = '';
  private readonly created = Math.floor(Date.now() / 1000);
  // Content block index → tool-call index: OpenAI numbers tool calls from 0 within the message.
  private readonly toolIndex = new Map<number, number>();
  private finished = false;
  private counted: (() => Usage) | undefined;

  constructor(
    /** The client asked for the trailing usage chunk. */
    private readonly clientWantsUsage: boolean,
  ) {}

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
    if (!e) return DROP;
    const d = e.data;
    switch (e.type) {
      case 'message_start': {
        const message = (d.message ?? {}) as JsonObject;
        if (typeof message.id === 'string') this.id = message.id;
        if (typeof message.model === 'string') this.model = message.model;
        return { out: this.chunk({ role: 'assistant', content: '' }) };
      }
      case 'content_block_start': {
        const block = (d.content_block ?? {}) as JsonObject;
        if (block.type === 'tool_use' && typeof d.index === 'number') {
          const index = this.toolIndex.size;
          this.toolIndex.set(d.index, index);
          const call = { index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } };
          return { text: e.text, out: this.chunk({ tool_calls: [call] }) };
        }
        return e.text ? { text: e.text, out: this.chunk({ content: e.text }) } : DROP;
      }
      case 'content_block_delta': {
        const delta = (d.delta ?? {}) as JsonObject;
        if (!e.text) return DROP;
        if (delta.type === 'text_delta') return { text: e.text, out: this.chunk({ content: e.text }) };
        if (delta.type === 'input_json_delta' && typeof d.index === 'number' && this.toolIndex.has(d.index)) {
          return { text: e.text, out: this.chunk({ tool_calls: [{ index: this.toolIndex.get(d.index), function: { arguments: e.text } }] }) };
        }
        // Thinking is billed output but has no place in a chat completion: metered, not shown.
        return { text: e.text, out: 'drop' };
      }
      case 'message_delta': {
        this.finished = true;
        const delta = (d.delta ?? {}) as JsonObject;
        return { out: this.chunk({}, finishReason(delta.stop_reason) ?? 'stop') };
      }
      case 'message_stop':
        return { out: this.usageChunk() + 'data: [DONE]\n\n' };
      case 'error':
        return { out: this.failure(anthropicErrorMessage(d)), failed: anthropicErrorMessage(d) };
      default:
        return DROP; // ping, content_block_stop
    }
  }

  peek(ev: SseEvent): StreamPeek {
    return peekAnthropic(ev);
  }

  useCount(count: () => Usage): void {
    this.counted = count;
  }

  cutoff(usage: Usage): string {
    const finish = this.finished ? '' : this.chunk({}, 'length');
    return finish + this.usageChunk(usage) + 'data: [DONE]\n\n';
  }

  failure(message: string): string {
    return sseFrame({ error: { message, type: 'upstream_error', param: null, code: 'upstream_error' } });
  }

  private chunk(delta: JsonObject, finish: string | null = null): string {
    return sseFrame({
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  }

  private usageChunk(delivered?: Usage): string {
    if (!this.clientWantsUsage) return '';
    const u = this.reader.usage;
    // The provider's figures when it sent them; otherwise the gateway's count (what it will settle).
    const figures = delivered ?? (u.final && u.input !== undefined && u.output !== undefined ? { input: u.input, output: u.output, cachedInput: u.cachedInput ?? 0 } : this.counted?.());
    const usage = chatUsageOf(figures?.input ?? 0, figures?.output ?? 0, figures?.cachedInput ?? 0);
    return sseFrame({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage });
  }
}
