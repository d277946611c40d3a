// Copies of per-request objects that get more properties afterwards.
//
// On Node 20 (V8 11) an object that starts as a spread copy (`{ ...body }`, `{ ...body, extra }`) gets
// a hidden class of its own for every property added after the spread: each request made new ones,
// in the old generation, and with them ~0.5 KB of the request's young objects survived each scavenge
// and was promoted (measured with `--trace-gc-nvp` at 500 req/s; `%HaveSameMap` tells the same on
// two such objects). An object that starts as a literal and has the spread after it shares its hidden
// classes from call to call. Overwriting a property the spread brought is harmless either way.
import type { JsonObject } from '../providers/usage.js';

/** A shallow copy of a request body, whose `model` is then `model` (every body has one). */
export function copyBodyFor(model: string, body: JsonObject): JsonObject {
  const out: JsonObject = { model, ...body };
  out.model = model;
  return out;
}

/** A shallow copy of `options` (absent: an empty object) with `include_usage: true`. */
export function withUsageIncluded(options: JsonObject | undefined): JsonObject {
  const out: JsonObject = { include_usage: true, ...options };
  out.include_usage = true;
  return out;
}
