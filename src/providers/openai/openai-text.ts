// The generated text of OpenAI-format answers, for counting output when the upstream reports no usage.
import type { ChoiceText, OutputText } from '../../tokens/choice-counter.js';
import type { JsonObject } from '../usage.js';

/**
 * Generated text of a non-streamed chat, completions or Responses body: a string when it is one choice's
 * (or a Responses body's), otherwise each choice's own, as each is billed apart.
 */
export function responseText(body: JsonObject): OutputText {
  // Responses API: every output item's text, arguments and summaries.
  if (Array.isArray(body.output)) return responsesOutputText(body.output as unknown[]);
  const choices = Array.isArray(body.choices) ? (body.choices as unknown[]) : [];
  const parts: ChoiceText[] = [];
  choices.forEach((c, position) => {
    if (typeof c !== 'object' || c === null) return;
    const choice = c as JsonObject;
    let text = typeof choice.text === 'string' ? choice.text : '';
    const message = choice.message as JsonObject | undefined;
    if (typeof message?.content === 'string') text += message.content;
    if (typeof message?.refusal === 'string') text += message.refusal;
    // OpenAI-compatible servers (vLLM, DeepSeek, Ollama) answer reasoning in these, as they stream it: billed output.
    if (typeof message?.reasoning_content === 'string') text += message.reasoning_content;
    if (typeof message?.reasoning === 'string') text += message.reasoning;
    if (Array.isArray(message?.tool_calls)) text += JSON.stringify(message.tool_calls);
    // The deprecated `functions` API answers with one `function_call` instead: generated output all the same.
    if (typeof message?.function_call === 'object' && message.function_call !== null) text += JSON.stringify(message.function_call);
    parts.push({ choice: typeof choice.index === 'number' ? choice.index : position, text });
  });
  return parts.length === 1 ? parts[0].text : parts;
}

function responsesOutputText(items: unknown[]): string {
  let text = '';
  for (const item of items) {
    if (typeof item !== 'object' || item === null) continue;
    const it = item as JsonObject;
    for (const field of ['arguments', 'input', 'code'] as const) if (typeof it[field] === 'string') text += it[field];
    for (const list of [it.content, it.summary]) {
      if (!Array.isArray(list)) continue;
      for (const part of list as JsonObject[]) {
        if (typeof part?.text === 'string') text += part.text;
        if (typeof part?.refusal === 'string') text += part.refusal;
      }
    }
  }
  return text;
}

/**
 * Text carried by one streamed chat or completions chunk (content, refusal, reasoning, tool-call names and
 * arguments), by choice: a string when it is choice 0's alone (every chunk of an n = 1 stream), otherwise
 * each choice's own (`n > 1` streams interleave them); undefined when it carries none.
 */
export function chunkOutput(chunk: JsonObject): OutputText | undefined {
  const choices = chunk.choices;
  if (!Array.isArray(choices)) return undefined;
  let parts: ChoiceText[] | undefined;
  for (const c of choices as unknown[]) {
    if (typeof c !== 'object' || c === null) continue;
    const text = choiceText(c as JsonObject);
    if (text !== '') (parts ??= []).push({ choice: typeof (c as JsonObject).index === 'number' ? ((c as JsonObject).index as number) : 0, text });
  }
  if (!parts) return undefined;
  return parts.length === 1 && parts[0].choice === 0 ? parts[0].text : parts;
}

/** Text carried by one choice of a streamed chunk. */
function choiceText(c: JsonObject): string {
  let text = typeof c.text === 'string' ? c.text : '';
  const delta = c.delta as JsonObject | undefined;
  if (typeof delta !== 'object' || delta === null) return text;
  if (typeof delta.content === 'string') text += delta.content;
  if (typeof delta.refusal === 'string') text += delta.refusal;
  // OpenAI-compatible servers (vLLM, DeepSeek, Ollama) stream reasoning in these; it is billed output.
  if (typeof delta.reasoning_content === 'string') text += delta.reasoning_content;
  if (typeof delta.reasoning === 'string') text += delta.reasoning;
  if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls as JsonObject[]) text += functionText(call?.function);
  // The deprecated `functions` API streams one `function_call` (name, then arguments) instead of tool calls.
  text += functionText(delta.function_call);
  return text;
}

/** The name and arguments a streamed function call delta carries. */
function functionText(fn: unknown): string {
  if (typeof fn !== 'object' || fn === null) return '';
  const { name, arguments: args } = fn as JsonObject;
  return (typeof name === 'string' ? name : '') + (typeof args === 'string' ? args : '');
}
