// The gateway reads a request's `metadata` as the call's tags (proxy/tags.ts), but Anthropic's `metadata`
// takes `user_id` alone: any other key is a 400 ("metadata.feature: Extra inputs are not permitted").
import type { JsonObject } from '../usage.js';

/** Whether `metadata` holds keys Anthropic refuses (any but `user_id`): tags for the gateway alone. */
export function holdsTags(metadata: unknown): metadata is JsonObject {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return false;
  for (const key in metadata) if (key !== 'user_id') return true;
  return false;
}

/** What Anthropic takes of `metadata`: its `user_id`, or nothing when it has none. */
export function upstreamMetadata(metadata: JsonObject): JsonObject | undefined {
  return metadata.user_id === undefined ? undefined : { user_id: metadata.user_id };
}
