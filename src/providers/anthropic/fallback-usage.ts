// Anthropic's server-side fallback (`fallbacks` on /v1/messages) reports each model attempt of the call in
// `usage.iterations`: a `message` entry for every hop that ran and declined (and for a serving hop's earlier
// server-tool turns), and a `fallback_message` entry for the fallback hop whose output is the answer; that
// entry is the documented sign that a fallback model served. Each attempt is billed at its own model's
// price, its input included, while the top-level counts are the serving hop's alone (SDK types
// BetaFallbackMessageIterationUsage, BetaIterationsUsage; platform.claude.com refusals-and-fallback).
import { withCacheWrites, type AttemptUsage, type JsonObject } from '../usage.js';
import { anthropicUsageFields, usagePartsOf } from './anthropic-usage.js';

/** Maps a model id as Anthropic reports it ('' for none) to the one the gateway prices it by. */
export type ModelNames = (model: string) => string;

/**
 * The model attempts a `usage` object reports, when a fallback model ran (a `fallback_message` entry);
 * undefined otherwise. An entry without a model takes the one before it (the first: '' for the requested
 * model), then `nameOf` names it. Compaction and advisor entries are not model attempts of the request and
 * are left out.
 */
export function fallbackAttempts(usage: unknown, nameOf: ModelNames = (m) => m): AttemptUsage[] | undefined {
  if (typeof usage !== 'object' || usage === null) return undefined;
  const iterations = (usage as JsonObject).iterations;
  if (!Array.isArray(iterations) || !iterations.some((i) => (i as JsonObject | null)?.type === 'fallback_message')) return undefined;
  const attempts: AttemptUsage[] = [];
  let model = '';
  for (const entry of iterations as Array<JsonObject | null>) {
    if (entry?.type !== 'message' && entry?.type !== 'fallback_message') continue;
    if (typeof entry.model === 'string' && entry.model !== '') model = entry.model;
    // An entry's counts read as a usage object's are (cache reads and writes are input too); a missing
    // input_tokens counts as none.
    const fields = anthropicUsageFields(entry);
    const p = usagePartsOf({ ...fields, input: fields.input ?? 0 });
    const attempt = withCacheWrites<AttemptUsage>({ model: nameOf(model), input: p.input ?? 0, output: p.output ?? 0, cachedInput: p.cachedInput ?? 0 }, p);
    attempts.push(attempt);
  }
  return attempts;
}

/** The fields of a usage that the attempts replace: their sums, every attempt being billed. */
interface Summed {
  input?: number;
  output?: number;
  cachedInput?: number;
  cacheWriteInput?: number;
  cacheWrite1hInput?: number;
  attempts?: readonly AttemptUsage[];
}

/** Sets `usage`'s counts to the sums of `attempts` (each billed), and the attempts themselves; returns `usage`. */
export function withAttempts<U extends Summed>(usage: U, attempts: readonly AttemptUsage[]): U {
  let input = 0;
  let output = 0;
  let cached = 0;
  let written = 0;
  let written1h = 0;
  for (const a of attempts) {
    input += a.input;
    output += a.output;
    cached += a.cachedInput;
    written += a.cacheWriteInput ?? 0;
    written1h += a.cacheWrite1hInput ?? 0;
  }
  usage.input = input;
  usage.output = output;
  usage.cachedInput = cached;
  if (written > 0) usage.cacheWriteInput = written;
  else delete usage.cacheWriteInput;
  if (written1h > 0) usage.cacheWrite1hInput = written1h;
  else delete usage.cacheWrite1hInput;
  usage.attempts = attempts;
  return usage;
}
