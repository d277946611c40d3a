// Anthropic's error bodies name their request (`{"type":"error","error":{...},"request_id":"req_..."}`), as
// its `request-id` header does. Relayed by the gateway, the header is the gateway's id (the ledger row's,
// which the SDK reads as `err.requestID`), so the body is made to say the same: one request, one id. The
// provider's own id still reaches the client, in `x-upstream-request-id`.
import { parseObject } from '../usage.js';

/** Larger error bodies are not Anthropic's (a proxy's page, say): they pass as sent. */
const MAX_ERROR_BODY = 64 * 1024;

/** An Anthropic error body that names its request, naming `requestId` instead; any other body unchanged. */
export function withErrorRequestId(raw: Buffer, requestId: string): Buffer | string {
  if (raw.length > MAX_ERROR_BODY) return raw;
  const parsed = parseObject(raw.toString('utf8'));
  // A body without an id of its own (older Anthropic-compatible servers) contradicts nothing: left as sent.
  if (parsed?.type !== 'error' || parsed.request_id === undefined) return raw;
  // Set in place: the key keeps its position, so the body is otherwise as the provider sent it.
  parsed.request_id = requestId;
  return JSON.stringify(parsed);
}
