// Chat completions' function calls, as OpenAI answers when the request makes the model call tools:
// `tool_choice: "required"` or a named function (or `mock_tool_use` with `auto`), one call per offered
// function when `parallel_tool_calls` is not false. Streamed, each call opens with its index, id, type and
// name (arguments ""), and its arguments follow in fragments, as the real stream sends them.
import { countTextTokens } from '../../tokens/index.js';
import type { MockControls } from './mock-controls.js';
import { mockId } from './mock-ids.js';

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

/** Arguments for a function, one plausible value per property of its parameters schema (the first of an enum). */
function argumentsFor(fn: Json): string {
  const params = isObject(fn.parameters) ? fn.parameters : {};
  const properties = isObject(params.properties) ? params.properties : {};
  const args: Json = {};
  for (const [name, prop] of Object.entries(properties)) {
    const p = isObject(prop) ? prop : {};
    if (Array.isArray(p.enum) && p.enum.length > 0) args[name] = p.enum[0];
    else if (p.type === 'number' || p.type === 'integer') args[name] = 1;
    else if (p.type === 'boolean') args[name] = true;
    else if (p.type === 'array') args[name] = [];
    else if (p.type === 'object') args[name] = {};
    else args[name] = 'mock';
  }
  return JSON.stringify(args);
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
  } else if (choice === 'required' || ((choice === undefined || choice === null || choice === 'auto') && controls.toolUse)) {
    called = body.parallel_tool_calls === false ? functions.slice(0, 1) : functions;
  } else return undefined;
  if (called.length === 0) return undefined;
  const model = typeof body.model === 'string' ? body.model : 'gpt-4o';
  const calls = called.map((f): MockToolCall => ({ id: mockId('call_', 24), type: 'function', function: { name: String(f.name), arguments: argumentsFor(f) } }));
  const tokens = calls.reduce((sum, c) => sum + countTextTokens(c.function.name + c.function.arguments, model), 0);
  return { calls, finish: isObject(choice) ? 'stop' : 'tool_calls', tokens };
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
