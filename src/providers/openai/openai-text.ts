// The generated text of OpenAI-format answers, for counting output when the upstream reports no usage.
import type { JsonObject } from '../usage.js';

/** Generated text of a non-streamed chat, completions or Responses body. */
export function responseText(body: JsonObject): string {
  let text = '';
  const choices = Array.isArray(body.choices) ? (body.choices as JsonObject[]) : [];
  for (const c of choices) {
    if (typeof c.text === 'string') text += c.text;
    const message = c.message as JsonObject | undefined;
    if (typeof message?.content === 'string') text += message.content;
    if (typeof message?.refusal === 'string') text += message.refusal;
    if (Array.isArray(message?.tool_calls)) text += JSON.stringify(message.tool_calls);
  }
  // Responses API: every output item's text, arguments and summaries.
  if (Array.isArray(body.output)) text += responsesOutputText(body.output as unknown[]);
  return text;
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

/** Text carried by one streamed chat or completions chunk (content, refusal, reasoning, tool-call names and arguments). */
export function chunkText(chunk: JsonObject): string {
  const choices = chunk.choices;
  if (!Array.isArray(choices)) return '';
  let text = '';
  for (const c of choices as JsonObject[]) {
    if (typeof c.text === 'string') text += c.text;
    const delta = c.delta as JsonObject | undefined;
    if (!delta) continue;
    if (typeof delta.content === 'string') text += delta.content;
    if (typeof delta.refusal === 'string') text += delta.refusal;
    // OpenAI-compatible servers (vLLM, DeepSeek, Ollama) stream reasoning in these; it is billed output.
    if (typeof delta.reasoning_content === 'string') text += delta.reasoning_content;
    if (typeof delta.reasoning === 'string') text += delta.reasoning;
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls as JsonObject[]) {
        const fn = call?.function as JsonObject | undefined;
        if (typeof fn?.name === 'string') text += fn.name;
        if (typeof fn?.arguments === 'string') text += fn.arguments;
      }
    }
  }
  return text;
}
