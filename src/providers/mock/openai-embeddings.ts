// POST /v1/embeddings: a list of deterministic unit vectors, as floats or base64 little-endian float32.
import { estimateInput } from '../../tokens/index.js';
import { jsonReply, type MockCall } from './mock-call.js';
import { openAiError } from './mock-errors.js';
import { refuseUnknownFields, validateOpenAi } from './openai-validate.js';
import type { MockReply } from './types.js';

/** Vector length when neither the request nor the options say (text-embedding-3-small's). */
export const DEFAULT_EMBEDDING_DIMENSIONS = 1536;
/** The most `dimensions` a request may ask for (text-embedding-3-large's), or the configured size if larger. */
const MAX_EMBEDDING_DIMENSIONS = 3072;

/**
 * An input with nothing to embed: an empty string (the input "cannot be an empty string", the openai SDK's
 * EmbeddingCreateParams.input), an empty list, or an empty string in a list.
 */
function emptyInput(input: unknown): boolean {
  if (input === '') return true;
  return Array.isArray(input) && (input.length === 0 || input.some((item) => item === ''));
}

/** OpenAI's 400 for it, naming the JSON path and no param (as quoted in public reports of it). */
const INVALID_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";

/** `dimensions` is "Only supported in `text-embedding-3` and later models" (the SDK's doc of it): ada-002 refuses it. */
function takesDimensions(model: string): boolean {
  return model !== 'text-embedding-ada-002';
}

// One string or one token array is one input; a list of either is several.
function inputsOf(input: unknown): unknown[] {
  if (Array.isArray(input) && input.length > 0 && typeof input[0] !== 'number') return input;
  return [input];
}

// FNV-1a over the input's JSON, so equal inputs always embed to equal vectors.
function seedOf(item: unknown): number {
  const s = JSON.stringify(item) ?? '';
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0 || 1;
}

/** A deterministic unit vector for `item`, already rounded to float32 (what both encodings carry). */
export function mockEmbeddingVector(item: unknown, dimensions: number): Float32Array {
  const v = new Float32Array(dimensions);
  let x = seedOf(item);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const r = (x >>> 0) / 4294967296 - 0.5;
    v[i] = r;
    norm += r * r;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) v[i] = v[i]! * scale;
  return v;
}

function toBase64(v: Float32Array): string {
  // Written element by element so the bytes are little-endian whatever the host's endianness.
  const buf = Buffer.allocUnsafe(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i]!, i * 4);
  return buf.toString('base64');
}

function toFloats(v: Float32Array): number[] {
  // Nine significant digits round-trip any float32, and print like the real API's numbers.
  const out = new Array<number>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = Number(v[i]!.toPrecision(9));
  return out;
}

/** Answers an embeddings request. */
export function mockEmbeddings(call: MockCall): MockReply {
  // Embeddings have no `metadata`: OpenAI refuses it.
  const invalid = refuseUnknownFields(call, ['metadata']) ?? validateOpenAi(call, 'input');
  if (invalid) return invalid;
  const { body } = call;
  if (emptyInput(body.input)) return openAiError(400, INVALID_INPUT, {}, call.latencyMs);
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    return openAiError(400, `${JSON.stringify(format)} is not one of ['float', 'base64'] - 'encoding_format'`, {}, call.latencyMs);
  }
  let dimensions = call.opts.embeddingDimensions ?? DEFAULT_EMBEDDING_DIMENSIONS;
  if (body.dimensions !== undefined && body.dimensions !== null) {
    // text-embedding-ada-002 refuses the field, whatever its value (its own 1536 included).
    if (!takesDimensions(body.model as string)) return openAiError(400, 'This model does not support specifying dimensions.', {}, call.latencyMs);
    if (typeof body.dimensions !== 'number' || !Number.isInteger(body.dimensions) || body.dimensions < 1) {
      return openAiError(400, `${JSON.stringify(body.dimensions)} is less than the minimum of 1 - 'dimensions'`, {}, call.latencyMs);
    }
    // OpenAI's largest embeddings have 3,072 dimensions; a vector is allocated per input, so a huge
    // request (1e308) must be refused, not thrown on (it ended `tollgate mock-upstream`).
    const most = Math.max(MAX_EMBEDDING_DIMENSIONS, dimensions);
    if (body.dimensions > most) return openAiError(400, `${body.dimensions} is greater than the maximum of ${most} - 'dimensions'`, {}, call.latencyMs);
    dimensions = body.dimensions;
  }
  const model = body.model as string;
  const data = inputsOf(body.input).map((item, index) => {
    const v = mockEmbeddingVector(item, dimensions);
    return { object: 'embedding', index, embedding: format === 'base64' ? toBase64(v) : toFloats(v) };
  });
  const value: Record<string, unknown> = { object: 'list', data, model };
  if (!call.controls.omitUsage) {
    const promptTokens = estimateInput('embeddings', body, model).exact();
    value.usage = { prompt_tokens: promptTokens, total_tokens: promptTokens };
  }
  return jsonReply(call, 'openai', value);
}
