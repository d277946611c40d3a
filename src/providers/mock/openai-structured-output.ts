// Structured outputs, as OpenAI answers them: with `response_format` (chat) or `text.format` (Responses)
// of type `json_schema` the answer is a JSON document that follows the schema, every property present (strict
// mode requires them all); with `json_object` it is a JSON object. The SDKs' helpers (`chat.completions.parse`,
// `responses.parse` and their streams) JSON.parse it, so prose here made every such call throw.
import { countTextTokens } from '../../tokens/index.js';
import { MOCK_WORDS } from './mock-text.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The JSON text of a structured answer, and the completion tokens it costs (the model's tokenizer). */
export interface StructuredAnswer {
  text: string;
  tokens: number;
}

// A recursive schema (a tree that refers to itself) ends where it may, near this depth: a nullable member
// is null and an array without minItems empty from two levels above it; past it an object is {}.
const MAX_DEPTH = 8;

/** The format a chat body asks for (`response_format`) or a Responses body asks for (`text.format`), when structured. */
export function structuredFormat(body: Json): Json | undefined {
  const format = isObject(body.response_format) ? body.response_format : isObject(body.text) && isObject(body.text.format) ? body.text.format : undefined;
  return format && (format.type === 'json_schema' || format.type === 'json_object') ? format : undefined;
}

/** The answer to a structured request, `offset` varying the words between choices; undefined for a text answer. */
export function structuredAnswer(body: Json, model: string, offset = 0): StructuredAnswer | undefined {
  const format = structuredFormat(body);
  if (!format) return undefined;
  // Chat nests the schema under `json_schema`; the Responses API puts it on the format itself.
  const holder = isObject(format.json_schema) ? format.json_schema : format;
  const schema = format.type === 'json_schema' && isObject(holder.schema) ? holder.schema : undefined;
  // Strings take the mock's words in turn, so fields differ, and choices (other offsets) too.
  let word = offset;
  const style: ValueStyle = { text: () => MOCK_WORDS[word++ % MOCK_WORDS.length]!, items: (min) => Math.max(1, Math.min(min, 3)) };
  const value = schema ? schemaValue(schema, style) : { answer: MOCK_WORDS.slice(0, 4).join(' ') };
  const text = JSON.stringify(value);
  return { text, tokens: countTextTokens(text, model) };
}

/** The text of an answer as a stream carries it: pieces of a few characters, in order. */
export function structuredPieces(text: string, size = 6): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** `text` cut to about `cap` of its `tokens` (no longer valid JSON, as a real cut leaves it). */
export function capStructured(answer: StructuredAnswer, cap: number): StructuredAnswer {
  if (answer.tokens <= cap) return answer;
  return { text: answer.text.slice(0, Math.floor((answer.text.length * cap) / answer.tokens)), tokens: cap };
}

/** How a generated value fills what the schema leaves open: a string's text, an array's length (from its minItems, 0 when none; held to minItems and maxItems). */
export interface ValueStyle {
  text: () => string;
  items: (minItems: number) => number;
}

/** One value that `schema` accepts: every property, the first of an enum, a union's first non-null member. */
export function schemaValue(schema: Json, style: ValueStyle): unknown {
  return valueFor(schema, schema, 0, style);
}

/** One plausible value for `schema` (resolving `$ref` against `root`). */
function valueFor(schema: Json, root: Json, depth: number, words: ValueStyle): unknown {
  const resolved = resolveRef(schema, root);
  if (!resolved) return null;
  if ('const' in resolved) return resolved.const;
  if (Array.isArray(resolved.enum) && resolved.enum.length > 0) return resolved.enum[0];
  const union = (Array.isArray(resolved.anyOf) ? resolved.anyOf : Array.isArray(resolved.oneOf) ? resolved.oneOf : undefined)?.filter(isObject);
  if (union && union.length > 0) {
    // A nullable field is `anyOf: [T, {type: null}]`: answer with T while the depth allows, else null.
    const concrete = union.find((s) => s.type !== 'null');
    const nullable = union.some((s) => s.type === 'null');
    return concrete && !(nullable && depth >= MAX_DEPTH - 2) ? valueFor(concrete, root, depth + 1, words) : null;
  }
  const types = Array.isArray(resolved.type) ? resolved.type : [resolved.type];
  const type = types.find((t) => t !== 'null') ?? (isObject(resolved.properties) ? 'object' : undefined);
  if (depth >= MAX_DEPTH) return types.includes('null') ? null : type === 'array' ? [] : type === 'object' ? {} : scalar(type, words);
  if (type === 'object') {
    const out: Json = {};
    const properties = isObject(resolved.properties) ? resolved.properties : {};
    for (const [name, prop] of Object.entries(properties)) out[name] = isObject(prop) ? valueFor(prop, root, depth + 1, words) : null;
    return out;
  }
  if (type === 'array') {
    const items = isObject(resolved.items) ? resolved.items : {};
    const min = typeof resolved.minItems === 'number' ? resolved.minItems : 0;
    const max = typeof resolved.maxItems === 'number' ? resolved.maxItems : Infinity;
    // The style's length, within the schema's bounds (deep down, the fewest it allows).
    const count = Math.min(max, Math.max(min, depth >= MAX_DEPTH - 2 ? 0 : words.items(min)));
    return Array.from({ length: count }, () => valueFor(items, root, depth + 1, words));
  }
  return scalar(type, words);
}

function scalar(type: unknown, words: ValueStyle): unknown {
  if (type === 'integer' || type === 'number') return 1;
  if (type === 'boolean') return true;
  if (type === 'null') return null;
  return words.text();
}

/** `schema` with a local `$ref` (`#/$defs/X`, `#/definitions/X`) followed; undefined when it points nowhere. */
function resolveRef(schema: Json, root: Json): Json | undefined {
  let current: Json | undefined = schema;
  for (let hops = 0; current && typeof current.$ref === 'string' && hops < 8; hops++) {
    const ref: string = current.$ref;
    if (ref === '#') return root;
    if (!ref.startsWith('#/')) return undefined;
    let target: unknown = root;
    for (const part of ref.slice(2).split('/')) target = isObject(target) ? target[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    current = isObject(target) ? target : undefined;
  }
  return current;
}
