// The stream adapter for OpenAI chat and legacy completions streams, passed through to an OpenAI client.
import { DROP, PASS, sseFrame, type ReportedUsage, type StreamAdapter, type StreamPeek, type StreamStep } from '../stream-adapter.js';
import { encodeSseEvent } from '../sse/encode-sse-event.js';
import type { SseEvent } from '../sse/index.js';
import { parseObject, withAudio, withCacheWrites, type JsonObject, type Usage } from '../usage.js';
import type { OutputText } from '../../tokens/choice-counter.js';
import type { EchoedPrompts } from './echoed-prompts.js';
import { chunkOutput } from './openai-text.js';
import { openAIUsage, pricedTier } from './openai-usage.js';

/** The fields every chunk of one stream repeats, kept to write the gateway's own chunks alike. */
interface ChunkHead {
  id: unknown;
  object: unknown;
  created: unknown;
  model: unknown;
  system_fingerprint?: unknown;
}

/** Reads usage and output text from `chat.completion.chunk` / `text_completion` events. */
export class OpenAIChatStream implements StreamAdapter {
  usage: ReportedUsage = { final: false };
  private head: ChunkHead | undefined;
  // Choice indexes seen and finished: bounded by the request's `n`.
  private readonly open = new Set<number>();
  private readonly finished = new Set<number>();
  private done = false;

  constructor(
    /** The client asked for the usage chunk; if not, the gateway asked for it and removes it again. */
    private readonly clientWantsUsage: boolean,
    private readonly legacy = false,
    /** Legacy completions with `echo: true`: the prompts their text starts with, not metered as output. */
    private readonly echoed?: EchoedPrompts,
    /** The choices the stream returns (`n`; prompts × `n` on legacy completions), indexed from 0. */
    private readonly choices = 1,
  ) {}

  /**
   * `[DONE]` arrived, or every choice the request asked for finished (servers that end without `[DONE]`
   * lose nothing then). Choices not seen yet count: a server that streams them one after another and
   * stops after the first has not ended.
   */
  get ended(): boolean {
    return this.done || (this.finished.size >= this.choices && [...this.open].every((i) => this.finished.has(i)));
  }

  get closed(): boolean {
    return this.done;
  }

  step(ev: SseEvent): StreamStep {
    if (ev.data === '[DONE]') {
      this.done = true;
      return PASS;
    }
    const chunk = parseObject(ev.data);
    if (!chunk) return PASS;
    if (chunk.error !== undefined && chunk.error !== null) return { out: 'pass', failed: errorMessage(chunk.error) };
    this.head ??= { id: chunk.id, object: chunk.object, created: chunk.created, model: chunk.model, system_fingerprint: chunk.system_fingerprint };
    const reported = openAIUsage(chunk.usage);
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as JsonObject[]) : [];
    if (reported) {
      this.usage = withCacheWrites(withAudio<ReportedUsage>({ input: reported.input, cachedInput: reported.cachedInput, output: reported.output, final: true }, reported), reported);
      const tier = pricedTier(chunk.service_tier);
      if (tier) this.usage.serviceTier = tier;
      if (!this.clientWantsUsage && choices.length === 0) return DROP;
    }
    for (const c of choices) {
      const index = typeof c?.index === 'number' ? c.index : 0;
      if (c?.finish_reason) this.finished.add(index);
      else this.open.add(index);
    }
    const text = this.generated(chunk, true);
    // Asked for usage by the gateway, OpenAI adds `"usage":null` to every other chunk, and some
    // OpenAI-compatible servers put the usage on the last choice chunk instead of one of its own. A client
    // that did not ask gets chunks without the field, as the provider would have sent them.
    if (!this.clientWantsUsage && chunk.usage !== undefined) return { ...(text ? { text } : {}), out: encodeSseEvent({ ...ev, data: withoutUsage(ev.data, chunk) }) };
    return text ? { text, out: 'pass' } : PASS;
  }

  peek(ev: SseEvent): StreamPeek {
    const chunk = ev.data === '[DONE]' ? undefined : parseObject(ev.data);
    if (!chunk) return {};
    if (chunk.error !== undefined && chunk.error !== null) return { failed: errorMessage(chunk.error) };
    return { text: this.generated(chunk, false), output: openAIUsage(chunk.usage)?.output };
  }

  /** The output a chunk carries, less echoed prompts; `commit` false to read it without moving on. */
  private generated(chunk: JsonObject, commit: boolean): OutputText | undefined {
    const text = chunkOutput(chunk);
    if (text === undefined || !this.echoed) return text;
    const generated = this.echoed.streamed(text, commit);
    return generated.length > 0 ? generated : undefined;
  }

  cutoff(usage: Usage): string {
    const head = this.head ?? { id: 'chatcmpl-tollgate', object: this.legacy ? 'text_completion' : 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: '' };
    // Every choice asked for that has not finished, seen or not (and any other index the server sent).
    const unfinished = new Set([...Array(this.choices).keys(), ...this.open]);
    for (const i of this.finished) unfinished.delete(i);
    let out = '';
    for (const index of unfinished) {
      out += sseFrame(this.chunk(head, [this.legacy ? { text: '', index, logprobs: null, finish_reason: 'length' } : { index, delta: {}, logprobs: null, finish_reason: 'length' }]));
    }
    if (this.clientWantsUsage) {
      const u = { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output };
      const last = this.chunk(head, []);
      last.usage = u;
      out += sseFrame(last);
    }
    return out + 'data: [DONE]\n\n';
  }

  failure(message: string): string {
    return sseFrame({ error: { message, type: 'upstream_error', param: null, code: 'upstream_error' } });
  }

  private chunk(head: ChunkHead, choices: unknown[]): JsonObject {
    // Legacy completions put `model` after `choices`, as the real stream does.
    if (this.legacy) return { id: head.id, object: head.object, created: head.created, choices, model: head.model };
    const out: JsonObject = { id: head.id, object: head.object, created: head.created, model: head.model };
    if (head.system_fingerprint !== undefined) out.system_fingerprint = head.system_fingerprint;
    out.choices = choices;
    return out;
  }
}

const NULL_USAGE = '"usage":null';

/**
 * A chunk's JSON text without its `usage`. OpenAI writes `"usage":null` after `choices`, and since stream
 * obfuscation an `"obfuscation"` member after it: that member is cut out of the text, which keeps every other
 * byte as it came. Elsewhere (a usage object on a choice chunk), the chunk is re-serialised without it.
 */
function withoutUsage(data: string, chunk: JsonObject): string {
  if (chunk.usage === null) {
    // A quote inside a string is escaped, so `"usage":null` can only be a member named usage; found once, it
    // is the chunk's own (a nested one would make two).
    const at = data.indexOf(NULL_USAGE);
    const end = at + NULL_USAGE.length;
    if (at > 0 && data.indexOf(NULL_USAGE, end) < 0) {
      if (data[at - 1] === ',') return data.slice(0, at - 1) + data.slice(end);
      if (data[at - 1] === '{' && data[end] === ',') return data.slice(0, at) + data.slice(end + 1);
    }
  }
  const { usage: _usage, ...rest } = chunk;
  return JSON.stringify(rest);
}

/** The message of an OpenAI-style error value. */
export function errorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null && typeof (error as JsonObject).message === 'string') return (error as JsonObject).message as string;
  return typeof error === 'string' ? error : JSON.stringify(error);
}
