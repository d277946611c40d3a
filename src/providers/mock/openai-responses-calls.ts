// The Responses API's function calls, as OpenAI answers a request that makes the model call its function
// tools (`tool_choice: "required"`, a named function `{type: "function", name}`, or `mock_tool_use` with
// `auto`): one `function_call` output item per call (one per offered function unless `parallel_tool_calls`
// is false), arguments made from each function's parameters (openai-tool-calls.ts). Streamed, each item
// opens with `response.output_item.added` (arguments ""), its arguments follow as
// `response.function_call_arguments.delta` fragments, then `.done` (with the name) and the item's `.done`.
import type { MockControls } from './mock-controls.js';
import { mockId } from './mock-ids.js';
import { argumentFragments, mockToolAnswer, type MockToolAnswer } from './openai-tool-calls.js';
import type { ObfuscationPad } from './stream-obfuscation.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The calls a Responses request makes the model answer with, or undefined when it answers in text. */
export function responsesToolAnswer(body: Json, controls: MockControls): MockToolAnswer | undefined {
  if (!Array.isArray(body.tools)) return undefined;
  // Responses tools are flat ({type, name, parameters}); Chat's nest them under `function`: the same calls.
  const tools = body.tools.filter((t): t is Json => isObject(t) && t.type === 'function').map((t) => ({ type: 'function', function: { name: t.name, parameters: t.parameters } }));
  const choice = body.tool_choice;
  const named = isObject(choice) && choice.type === 'function' ? { type: 'function', function: { name: choice.name } } : choice;
  return mockToolAnswer({ ...body, tools, tool_choice: named }, controls);
}

/** The `function_call` output items of `answer`; a call its cap cut short is `incomplete`. */
export function functionCallItems(answer: MockToolAnswer, full: MockToolAnswer): Json[] {
  return answer.calls.map((c, k) => ({
    id: mockId('fc_', 48),
    type: 'function_call',
    status: c.function.arguments === full.calls[k]?.function.arguments ? 'completed' : 'incomplete',
    arguments: c.function.arguments,
    call_id: c.id,
    name: c.function.name,
  }));
}

/** The events that stream `items` (output indexes from 0), built with `frame`; deltas padded by `pad` when on. */
export function functionCallFrames(items: Json[], frame: (type: string, fields: Json) => string, pad?: ObfuscationPad): string[] {
  const frames: string[] = [];
  items.forEach((item, index) => {
    const args = String(item.arguments);
    frames.push(frame('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress', arguments: '' } }));
    for (const delta of argumentFragments(args)) {
      const fields: Json = { item_id: item.id, output_index: index, delta };
      if (pad) fields.obfuscation = pad.next(delta);
      frames.push(frame('response.function_call_arguments.delta', fields));
    }
    frames.push(frame('response.function_call_arguments.done', { item_id: item.id, output_index: index, name: item.name, arguments: args }));
    frames.push(frame('response.output_item.done', { output_index: index, item }));
  });
  return frames;
}
