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
