// The `fallbacks` field of a Messages request (Anthropic's server-side fallback, beta
// `server-side-fallback-2026-07-01`): up to three entries `{model, max_tokens?, thinking?, output_config?,
// speed?}` tried in order when the model before declines (SDK type BetaFallbackParam; Anthropic rejects any
// other key at parse time). Checked here because the gateway must see every model a call can run on: the
// key's routes, the reservation and the bill all depend on them.
import { invalidRequest } from '../../errors/tollgate-error.js';
import type { JsonObject } from '../usage.js';

/** The most entries one request may name. */
export const MAX_FALLBACKS = 3;

/** The keys a fallback entry may have. */
const ENTRY_KEYS: ReadonlySet<string> = new Set(['model', 'max_tokens', 'thinking', 'output_config', 'speed']);

const SHAPE = `an array of at most ${MAX_FALLBACKS} objects {model, max_tokens?, thinking?, output_config?, speed?}`;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The request's fallback entries, checked (none: undefined, as for `fallbacks: null`), or the 400 naming
 * the first thing wrong. `"default"` (Anthropic picks the fallback model) is refused: the gateway could not
 * know, before the call, which model it may run on.
 */
export function readFallbacks(body: JsonObject): JsonObject[] | undefined {
  const fallbacks = body.fallbacks;
  if (fallbacks === undefined || fallbacks === null) return undefined;
  if (fallbacks === 'default') {
    throw invalidRequest(
      'fallbacks: "default" lets the provider choose the fallback model, which this gateway cannot check against your key\'s models. Name the fallback models instead: fallbacks: [{"model": "..."}].',
      'fallbacks',
    );
  }
  if (!Array.isArray(fallbacks)) throw invalidRequest(`fallbacks: must be ${SHAPE}.`, 'fallbacks');
  if (fallbacks.length > MAX_FALLBACKS) throw invalidRequest(`fallbacks: at most ${MAX_FALLBACKS} entries are allowed; got ${fallbacks.length}.`, 'fallbacks');
  for (const [i, entry] of fallbacks.entries()) {
    const at = `fallbacks.${i}`;
    if (!isObject(entry)) throw invalidRequest(`${at}: must be an object {model, max_tokens?, thinking?, output_config?, speed?}.`, at);
    if (typeof entry.model !== 'string' || entry.model === '') throw invalidRequest(`${at}.model: Field required.`, `${at}.model`);
    for (const key of Object.keys(entry)) if (!ENTRY_KEYS.has(key)) throw invalidRequest(`${at}.${key}: Extra inputs are not permitted.`, `${at}.${key}`);
    const max = entry.max_tokens;
    if (max !== undefined && max !== null && (!Number.isInteger(max) || (max as number) < 1)) throw invalidRequest(`${at}.max_tokens: must be a positive integer.`, `${at}.max_tokens`);
    const speed = entry.speed;
    if (speed !== undefined && speed !== null && speed !== 'standard' && speed !== 'fast') throw invalidRequest(`${at}.speed: must be "standard" or "fast".`, `${at}.speed`);
    for (const key of ['thinking', 'output_config'] as const) {
      const v = entry[key];
      if (v !== undefined && v !== null && !isObject(v)) throw invalidRequest(`${at}.${key}: must be an object.`, `${at}.${key}`);
    }
  }
  return fallbacks as JsonObject[];
}

/** The max_tokens an attempt runs with: its entry's, else the request's (`null` and absent alike). */
export function attemptMaxTokens(entry: JsonObject, requested: number): number {
  return typeof entry.max_tokens === 'number' ? entry.max_tokens : requested;
}

/** The `speed` an attempt may run at: its entry's when it sets the key (null: standard), else the request's. */
export function attemptSpeed(entry: JsonObject, requested: unknown): unknown {
  return 'speed' in entry ? entry.speed : requested;
}

/** The thinking an attempt runs with: its entry's when it sets the key (null: the model's default), else the request's. */
export function attemptThinking(entry: JsonObject, requested: unknown): unknown {
  return 'thinking' in entry ? entry.thinking : requested;
}
