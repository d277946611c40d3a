// The proxied endpoints by path: the server registers its routes from this, and metrics name a
// rejected request's endpoint with it (a bounded set: every other path is `other`).
import type { Endpoint } from '../tokens/index.js';

export const OPENAI_ENDPOINTS: ReadonlyArray<[string, Endpoint]> = [
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'completions'],
  ['/v1/embeddings', 'embeddings'],
  ['/v1/responses', 'responses'],
];

const ENDPOINT_OF_PATH = new Map<string, string>([...OPENAI_ENDPOINTS, ['/v1/messages', 'messages'], ['/v1/messages/count_tokens', 'count_tokens']]);

/** The endpoint a route path serves (`chat`, `messages`, `count_tokens`, ...), `other` for any other path. */
export function endpointOfPath(path: string): string {
  return ENDPOINT_OF_PATH.get(path) ?? 'other';
}
