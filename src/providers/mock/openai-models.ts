// GET /v1/models and GET /v1/models/{id}: a fixed catalogue (the mock serves any model name anyway).
import { openAiError } from './mock-errors.js';
import { mockRequestId } from './mock-ids.js';
import type { MockReply } from './types.js';

/** The models the mock lists, as OpenAI's model objects. */
export const MOCK_MODELS: ReadonlyArray<{ id: string; object: 'model'; created: number; owned_by: string }> = [
  { id: 'gpt-4o', object: 'model', created: 1715367049, owned_by: 'system' },
  { id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' },
  { id: 'gpt-4.1', object: 'model', created: 1744316542, owned_by: 'system' },
  { id: 'gpt-4.1-mini', object: 'model', created: 1744318173, owned_by: 'system' },
  { id: 'gpt-4.1-nano', object: 'model', created: 1744321707, owned_by: 'system' },
  { id: 'gpt-3.5-turbo-instruct', object: 'model', created: 1692901427, owned_by: 'system' },
  { id: 'text-embedding-3-small', object: 'model', created: 1705948997, owned_by: 'system' },
  { id: 'text-embedding-3-large', object: 'model', created: 1705953180, owned_by: 'system' },
];

/**
 * The most completion tokens each listed chat model produces (OpenAI's model pages: 16,384 for the gpt-4o
 * family, 32,768 for gpt-4.1's); a larger cap is refused before generating. Names not here take any cap.
 */
const CHAT_OUTPUT_LIMITS: Readonly<Record<string, number>> = {
  'gpt-4o': 16_384,
  'gpt-4o-mini': 16_384,
  'gpt-4.1': 32_768,
  'gpt-4.1-mini': 32_768,
  'gpt-4.1-nano': 32_768,
};

/**
 * OpenAI's 400 for a chat cap (`max_tokens` or `max_completion_tokens`) above the model's output limit, as the
 * API words it ("max_tokens is too large: 32000. This model supports at most 16384 completion tokens, whereas
 * you provided 32000.", param max_tokens: enoch3712/ExtractThinker#346), or undefined.
 */
export function capAboveOutputLimit(body: Record<string, unknown>, latencyMs: number): MockReply | undefined {
  const limit = CHAT_OUTPUT_LIMITS[body.model as string];
  if (limit === undefined) return undefined;
  for (const field of ['max_tokens', 'max_completion_tokens']) {
    const v = body[field];
    if (typeof v === 'number' && v > limit) {
      return openAiError(400, `${field} is too large: ${v}. This model supports at most ${limit} completion tokens, whereas you provided ${v}.`, { param: field }, latencyMs);
    }
  }
  return undefined;
}

function json(status: number, value: unknown, latencyMs: number): MockReply {
  return {
    kind: 'json',
    status,
    headers: { 'content-type': 'application/json', 'x-request-id': mockRequestId() },
    latencyMs,
    body: JSON.stringify(value),
  };
}

/** Answers GET /v1/models with `{"object":"list","data":[...]}`. */
export function mockListModels(latencyMs: number): MockReply {
  return json(200, { object: 'list', data: MOCK_MODELS }, latencyMs);
}

/** Answers GET /v1/models/{id}: the model object, or OpenAI's model_not_found 404. */
export function mockRetrieveModel(id: string, latencyMs: number): MockReply {
  const model = MOCK_MODELS.find((m) => m.id === id);
  if (model) return json(200, model, latencyMs);
  return openAiError(
    404,
    `The model '${id}' does not exist`,
    { param: 'model', code: 'model_not_found' },
    latencyMs,
  );
}
