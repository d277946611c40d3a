// Chat completions' function calls, as OpenAI answers when the request makes the model call tools:
// `tool_choice: "required"` or a named function (or `mock_tool_use` with `auto`), one call per offered
// function when `parallel_tool_calls` is not false. Streamed, each call opens with its index, id, type and
// name (arguments ""), and its arguments follow in fragments, as the real stream sends them.
import { countTextTokens } from '../../tokens/index.js';
import type { MockControls } from './mock-controls.js';
import { mockId } from './mock-ids.js';
import { schemaValue, type ValueStyle } from './openai-structured-output.js';

/** One tool call of an answer, in the wire's shape. */
export interface MockToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** The calls the model makes and the answer's finish_reason with them. */
export interface MockToolAnswer {
  calls: MockToolCall[];
  /** `tool_calls`, except for a named function forced by tool_choice (OpenAI answers that one with `stop`), or `length` when the cap cut the calls. */
  finish: 'tool_calls' | 'stop' | 'length';
  /** Completion tokens the calls cost: their names and arguments, counted with the model's tokenizer. */
  tokens: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// Strict function calling (the SDK's zodFunction) parses the arguments with the function's schema: nested
// objects have every property, a union (a nullable field) its first non-null member, an array its minItems.
// Strings are 'mock' and arrays without a minimum empty, as they always were here.
const ARGUMENT_STYLE: ValueStyle = { text: () => 'mock', items: (min) => Math.min(min, 3) };

/** Arguments for a function: a value its parameters schema accepts (see ARGUMENT_STYLE). */
function argumentsFor(fn: Json): string {
  const params = isObject(fn.parameters) ? fn.parameters : {};
  const args = schemaValue({ ...params, type: 'object' }, ARGUMENT_STYLE);
  return JSON.stringify(isObject(args) ? args : {});
}

/** The tool calls a chat request makes the model answer with, or undefined when it answers in text. */
export function mockToolAnswer(body: Json, controls: MockControls): MockToolAnswer | undefined {
  if (!Array.isArray(body.tools)) return undefined;
  const functions = body.tools.filter((t): t is Json => isObject(t) && t.type === 'function' && isObject(t.function)).map((t) => t.function as Json);
  if (functions.length === 0) return undefined;
  const choice = body.tool_choice;
  let called: Json[];
  if (isObject(choice) && choice.type === 'function' && isObject(choice.function)) {
    const named = choice.function.name;
    called = functions.filter((f) => f.name === named).slice(0, 1);
  } else if (choice === 'required' || ((choice === undefined || choice === null || choice === 'auto') && controls.toolUse && !endsWithToolResults(body))) {
    called = body.parallel_tool_calls === false ? functions.slice(0, 1) : functions;
  } else return undefined;
  if (called.length === 0) return undefined;
  const model = typeof body.model === 'string' ? body.model : 'gpt-4o';
  const calls = called.map((f): MockToolCall => ({ id: mockId('call_', 24), type: 'function', function: { name: String(f.name), arguments: argumentsFor(f) } }));
  const tokens = calls.reduce((sum, c) => sum + countTextTokens(c.function.name + c.function.arguments, model), 0);
  return { calls, finish: isObject(choice) ? 'stop' : 'tool_calls', tokens };
}

/**
 * The conversation ends with the results of the model's calls (chat's `tool` messages, the Responses API's
 * `function_call_output` items): left free to choose (`auto`), a model then answers in text, and so does the
 * mock, or the SDK's tool runner (`runTools`) would call the tools until its limit.
 */
function endsWithToolResults(body: Json): boolean {
  const last = Array.isArray(body.messages) ? body.messages.at(-1) : Array.isArray(body.input) ? body.input.at(-1) : undefined;
  return isObject(last) && (last.role === 'tool' || last.type === 'function_call_output');
}

/** A call's arguments in the fragments the stream carries them in (a few characters each). */
export function argumentFragments(args: string, size = 4): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i += size) out.push(args.slice(i, i + size));
  return out;
}

/**
 * The calls as a cap of `cap` output tokens leaves them: whole while they fit, then the call that crosses it
 * with its arguments cut short (no longer valid JSON, as a real cut leaves them) and none after it.
 */
export function capToolAnswer(answer: MockToolAnswer, cap: number, model: string): MockToolAnswer {
  if (answer.tokens <= cap) return answer;
  const calls: MockToolCall[] = [];
  let used = 0;
  for (const call of answer.calls) {
    const cost = countTextTokens(call.function.name + call.function.arguments, model);
    const room = cap - used;
    if (cost <= room) {
      calls.push(call);
      used += cost;
      continue;
    }
    const args = call.function.arguments;
    if (room > 0) calls.push({ ...call, function: { name: call.function.name, arguments: args.slice(0, Math.floor((args.length * room) / cost)) } });
    break;
  }
  return { calls, finish: 'length', tokens: cap };
}
