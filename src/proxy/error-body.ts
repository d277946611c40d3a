// The body of an error answer, in the format of the API the client called.
import type { TollgateError } from '../errors/tollgate-error.js';
import type { JsonObject } from '../providers/usage.js';
import type { ClientWire } from './exchange.js';

/** The error body for a failure on an endpoint of wire `wire`. */
export function errorBody(err: TollgateError, wire: ClientWire, requestId: string): JsonObject {
  // Anthropic's error bodies name the request too (`request_id`, as its `request-id` header does).
  return (wire === 'anthropic' ? { ...err.toAnthropic(), request_id: requestId } : err.toOpenAI()) as unknown as JsonObject;
}
