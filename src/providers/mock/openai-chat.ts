// POST /v1/chat/completions: the chat.completion object, or a chat.completion.chunk stream.
import { estimateInput } from '../../tokens/index.js';
import { chatUsage, jsonReply, servedTier, sseReply, wantsStreamUsage, type MockCall } from './mock-call.js';
import { resolveOutputLength } from './mock-controls.js';
import { promptCacheCounts } from './openai-prompt-cache.js';
import { mockId, nowSeconds } from './mock-ids.js';
import { choiceText } from './openai-choice-text.js';
import { choiceLogprobs, tokenLogprob, wantedLogprobs } from './openai-logprobs.js';
import { openAiError } from './mock-errors.js';
import { answersInAudio } from '../openai/unseen-billing.js';
import { sentAudioTokens } from '../openai/audio-sides.js';
import { spokenAnswer, spokenDeltas, spokenMessage } from './openai-audio.js';
import { argumentFragments, capToolAnswer, mockToolAnswer, type MockToolAnswer } from './openai-tool-calls.js';
import { capAboveOutputLimit } from './openai-models.js';
import { validateOpenAi } from './openai-validate.js';
import { ObfuscationPad, wantsObfuscation } from './stream-obfuscation.js';
import type { MockReply } from './types.js';

const CAPS = ['max_completion_tokens', 'max_tokens'] as const;

/** A fixed backend fingerprint, shaped like OpenAI's `fp_` + 10 hex digits. */
export const MOCK_SYSTEM_FINGERPRINT = 'fp_6d0c1a2b3c';

// Choices start at different words so n > 1 answers are distinguishable.
const CHOICE_OFFSET = 7;

/** Answers a chat completion request (non-streaming or streaming, any `n`). */
export function mockChatCompletion(call: MockCall): MockReply {
  const invalid = validateOpenAi(call, 'messages', CAPS) ?? capAboveOutputLimit(call.body, call.latencyMs);
  if (invalid) return invalid;
  const { body, controls } = call;
  // Chat completions take `metadata` only to label a stored completion, as OpenAI and Azure OpenAI do.
  if (body.metadata !== undefined && body.metadata !== null && body.store !== true) {
    return openAiError(400, "The 'metadata' parameter is only allowed when 'store' is enabled.", { param: 'metadata' }, call.latencyMs);
  }
  const model = body.model as string;
  const n = typeof body.n === 'number' ? body.n : 1;
  const len = resolveOutputLength(body, controls, call.opts, CAPS);
  const finish = len.cut ? 'length' : 'stop';
  const promptTokens = estimateInput('chat', body, model).exact();
  const id = mockId('chatcmpl-', 29);
  const created = nowSeconds();
  // A request that makes the model call tools is answered with the calls instead of text.
  const called = mockToolAnswer(body, controls);
  // Each choice's calls end where its cap stops them, as text does (finish_reason `length`).
  const tools = called && capToolAnswer(called, resolveOutputLength(body, { ...controls, outputTokens: called.tokens }, call.opts, CAPS).tokens, model);
  // A spoken answer (audio models): each choice's audio and transcript share its completion tokens.
  const spoken = tools ? undefined : answersInAudio('chat', body) ? Array.from({ length: n }, (_, i) => spokenAnswer(len.tokens, i * CHOICE_OFFSET, created)) : undefined;
  // Otherwise each choice answers in text (JSON for structured outputs), ended by the cap or a stop sequence.
  const texts = tools || spoken ? [] : Array.from({ length: n }, (_, i) => choiceText(body, controls, call.opts, CAPS, len, i * CHOICE_OFFSET));
  const completionTokens = tools ? tools.tokens * n : spoken ? len.tokens * n : texts.reduce((sum, t) => sum + t.tokens, 0);
  // `logprobs: true`: how many alternatives each token lists (undefined: logprobs stay null).
  const top = wantedLogprobs(body);
  // The audio sent is counted as the gateway's exact estimate counts it (OpenAI publishes no formula).
  const audio = { input: sentAudioTokens(body.messages), output: spoken ? spoken.reduce((sum, a) => sum + a.audioTokens, 0) : 0 };
  // The prompt's cache reads and writes (GPT-5.6 and later write a long prompt: the mock keeps no cache).
  const cache = promptCacheCounts(model, body, controls, promptTokens);

  if (body.stream === true) {
    const includeUsage = wantsStreamUsage(body);
    // Every chunk shares this prefix; the per-token work is one JSON.stringify of the text piece.
    const head =
      `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},` +
      `"service_tier":"${servedTier(body, call.opts)}","system_fingerprint":"${MOCK_SYSTEM_FINGERPRINT}","choices":[`;
    // After `choices`: `"usage":null` when usage was asked for, then `"obfuscation"` unless turned off (stream-obfuscation.ts).
    const afterChoices = includeUsage ? '],"usage":null' : ']';
    const pad = wantsObfuscation(body) ? new ObfuscationPad() : undefined;
    const end = (text?: string): string => (pad ? pad.member(text) : '') + '}\n\n';
    const frames: string[] = [];
    if (tools) {
      frames.push(...toolCallFrames(tools, n, (choice) => head + choice + afterChoices, end));
      if (includeUsage && !controls.omitUsage) frames.push(head + '],"usage":' + JSON.stringify(chatUsage(promptTokens, completionTokens, audio, cache)) + end());
      frames.push('data: [DONE]\n\n');
      return sseReply(call, 'openai', frames);
    }
    if (spoken) {
      spoken.forEach((answer, i) => {
        frames.push(head + `{"index":${i},"delta":{"role":"assistant","content":null,"refusal":null},"logprobs":null,"finish_reason":null}` + afterChoices + end());
        for (const delta of spokenDeltas(answer)) {
          const text = typeof delta.transcript === 'string' ? delta.transcript : undefined;
          frames.push(head + `{"index":${i},"delta":{"audio":${JSON.stringify(delta)}},"logprobs":null,"finish_reason":null}` + afterChoices + end(text));
        }
        frames.push(head + `{"index":${i},"delta":{},"logprobs":null,"finish_reason":"${finish}"}` + afterChoices + end());
      });
      if (includeUsage && !controls.omitUsage) frames.push(head + '],"usage":' + JSON.stringify(chatUsage(promptTokens, completionTokens, audio, cache)) + end());
      frames.push('data: [DONE]\n\n');
      return sseReply(call, 'openai', frames);
    }
    for (let i = 0; i < n; i++) {
      frames.push(
        head + `{"index":${i},"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}` + afterChoices + end(),
      );
    }
    const longest = Math.max(0, ...texts.map((t) => t.pieces.length));
    for (let t = 0; t < longest; t++) {
      for (let i = 0; i < n; i++) {
        const piece = texts[i]!.pieces[t];
        if (piece === undefined) continue;
        // Each content chunk carries the logprobs of its own token, when asked for.
        const logprobs = top === undefined ? 'null' : JSON.stringify({ content: [tokenLogprob(piece, t, top)], refusal: null });
        frames.push(head + `{"index":${i},"delta":{"content":${JSON.stringify(piece)}},"logprobs":${logprobs},"finish_reason":null}` + afterChoices + end(piece));
      }
    }
    for (let i = 0; i < n; i++) {
      frames.push(head + `{"index":${i},"delta":{},"logprobs":null,"finish_reason":"${texts[i]!.finish}"}` + afterChoices + end());
    }
    if (includeUsage && !controls.omitUsage) {
      frames.push(head + '],"usage":' + JSON.stringify(chatUsage(promptTokens, completionTokens, audio, cache)) + end());
    }
    frames.push('data: [DONE]\n\n');
    return sseReply(call, 'openai', frames);
  }

  const choices = Array.from({ length: n }, (_, i) => ({
    index: i,
    message: tools
      ? { role: 'assistant', content: null, tool_calls: tools.calls, refusal: null, annotations: [] }
      : spoken
        ? spokenMessage(spoken[i]!)
        : { role: 'assistant', content: texts[i]!.pieces.join(''), refusal: null, annotations: [] },
    logprobs: top !== undefined && texts[i] ? choiceLogprobs(texts[i]!.pieces, top) : null,
    finish_reason: tools ? tools.finish : spoken ? finish : texts[i]!.finish,
  }));
  const value: Record<string, unknown> = { id, object: 'chat.completion', created, model, choices };
  if (!controls.omitUsage) value.usage = chatUsage(promptTokens, completionTokens, audio, cache);
  value.service_tier = servedTier(body, call.opts);
  value.system_fingerprint = MOCK_SYSTEM_FINGERPRINT;
  return jsonReply(call, 'openai', value);
}

/**
 * The chunks of each choice's tool calls: the role, then per call one chunk opening it (index, id, type,
 * name, empty arguments) and its arguments in fragments, then the finish_reason. `frame` wraps one choice
 * object into a chunk; `end` closes it (with the obfuscation pad when on).
 */
function toolCallFrames(tools: MockToolAnswer, n: number, frame: (choice: string) => string, end: (text?: string) => string): string[] {
  const frames: string[] = [];
  for (let i = 0; i < n; i++) {
    frames.push(frame(`{"index":${i},"delta":{"role":"assistant","content":null,"refusal":null},"logprobs":null,"finish_reason":null}`) + end());
    tools.calls.forEach((c, k) => {
      const open = { index: k, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } };
      frames.push(frame(`{"index":${i},"delta":{"tool_calls":[${JSON.stringify(open)}]},"logprobs":null,"finish_reason":null}`) + end(c.function.name));
      for (const piece of argumentFragments(c.function.arguments)) {
        frames.push(frame(`{"index":${i},"delta":{"tool_calls":[{"index":${k},"function":{"arguments":${JSON.stringify(piece)}}}]},"logprobs":null,"finish_reason":null}`) + end(piece));
      }
    });
    frames.push(frame(`{"index":${i},"delta":{},"logprobs":null,"finish_reason":"${tools.finish}"}`) + end());
  }
  return frames;
}
