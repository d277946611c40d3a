// POST /v1/completions (legacy): the text_completion object, or its stream.
import { estimateInput } from '../../tokens/index.js';
import { jsonReply, sseReply, wantsStreamUsage, type MockCall } from './mock-call.js';
import { resolveOutputLength } from './mock-controls.js';
import { openAiError } from './mock-errors.js';
import { mockId, nowSeconds } from './mock-ids.js';
import { mockTokens } from './mock-text.js';
import { stopSequences } from './openai-choice-text.js';
import { stopAtSequence } from './stop-sequences.js';
import { refuseUnknownFields, validateOpenAi } from './openai-validate.js';
import { legacyPrompts } from '../openai/legacy-prompts.js';
import type { MockReply } from './types.js';

const CAPS = ['max_tokens'] as const;

/**
 * What `echo: true` puts before a prompt's completion: the prompt's text, or for a token array (whose text
 * a real server decodes) one mock word per token.
 */
function echoOf(prompt: unknown): string {
  if (typeof prompt === 'string') return prompt;
  return Array.isArray(prompt) ? mockTokens(prompt.length, 3).join('') : '';
}

function legacyUsage(promptTokens: number, completionTokens: number): Record<string, number> {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** Answers a legacy completion request; choices = prompts x `n`, ordered by prompt then n. */
export function mockCompletion(call: MockCall): MockReply {
  const { body, controls } = call;
  // `echo` with `max_tokens: 0` scores a prompt without generating (its logprobs): vLLM and OpenAI take it.
  const echo = body.echo === true;
  // Legacy completions have no `metadata` (chat's label for stored completions): OpenAI refuses it.
  const invalid = refuseUnknownFields(call, ['metadata']) ?? validateOpenAi(call, 'prompt', echo && body.max_tokens === 0 ? [] : CAPS);
  if (invalid) return invalid;
  // best_of: "Results cannot be streamed" (the openai SDK's CompletionCreateParams.best_of).
  if (body.stream === true && typeof body.best_of === 'number' && body.best_of > 1) {
    return openAiError(400, 'Cannot stream results with best_of > 1.', { param: 'best_of' }, call.latencyMs);
  }
  const model = body.model as string;
  const n = typeof body.n === 'number' ? body.n : 1;
  const prompts = legacyPrompts(body.prompt);
  const choicesCount = prompts.length * n;
  // Choices are ordered by prompt, then n; each echoes its own prompt first (billed as input, not output).
  const echoes = Array.from({ length: choicesCount }, (_, i) => (echo ? echoOf(prompts[Math.floor(i / n)]) : ''));
  const len = resolveOutputLength(body, controls, call.opts, CAPS);
  // Each choice ends at the cap, or before the first `stop` sequence its text would contain (then `stop`,
  // the sequence not returned, billed up to the token that completed it).
  const generated = Array.from({ length: choicesCount }, (_, i) => stopAtSequence(mockTokens(len.tokens, i * 7), stopSequences(body)));
  const finishOf = (i: number): string => (generated[i]!.stopped !== undefined || !len.cut ? 'stop' : 'length');
  const promptTokens = estimateInput('completions', body, model).exact();
  const completionTokens = generated.reduce((sum, g) => sum + g.tokens, 0);
  const id = mockId('cmpl-', 29);
  const created = nowSeconds();

  if (body.stream === true) {
    const includeUsage = wantsStreamUsage(body);
    // Legacy chunks put `model` after `choices`, as the real stream does.
    const head = `data: {"id":"${id}","object":"text_completion","created":${created},"choices":[`;
    const modelTail = `],"model":${JSON.stringify(model)}`;
    const tail = modelTail + (includeUsage ? ',"usage":null}\n\n' : '}\n\n');
    const frames: string[] = [];
    const pieces = generated.map((g) => g.pieces);
    const longest = Math.max(0, ...pieces.map((p) => p.length));
    // The echo comes with a choice's first piece (alone when nothing is generated), as vLLM streams it.
    for (let t = 0; t < Math.max(longest, echo ? 1 : 0); t++) {
      for (let i = 0; i < choicesCount; i++) {
        if (t >= pieces[i]!.length && !(t === 0 && echo)) continue;
        const text = (t === 0 ? echoes[i]! : '') + (pieces[i]![t] ?? '');
        frames.push(head + `{"text":${JSON.stringify(text)},"index":${i},"logprobs":null,"finish_reason":null}` + tail);
      }
    }
    for (let i = 0; i < choicesCount; i++) {
      frames.push(head + `{"text":"","index":${i},"logprobs":null,"finish_reason":"${finishOf(i)}"}` + tail);
    }
    if (includeUsage && !controls.omitUsage) {
      frames.push(head + modelTail + ',"usage":' + JSON.stringify(legacyUsage(promptTokens, completionTokens)) + '}\n\n');
    }
    frames.push('data: [DONE]\n\n');
    return sseReply(call, 'openai', frames);
  }

  const choices = Array.from({ length: choicesCount }, (_, i) => ({
    text: echoes[i]! + generated[i]!.pieces.join(''),
    index: i,
    logprobs: null,
    finish_reason: finishOf(i),
  }));
  const value: Record<string, unknown> = { id, object: 'text_completion', created, model, choices };
  if (!controls.omitUsage) value.usage = legacyUsage(promptTokens, completionTokens);
  return jsonReply(call, 'openai', value);
}
