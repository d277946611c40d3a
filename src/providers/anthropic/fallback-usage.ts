// Anthropic's server-side fallback (`fallbacks` on /v1/messages) reports each model attempt of the call in
// `usage.iterations`: a `message` entry for every hop that ran and declined (and for a serving hop's earlier
// server-tool turns), and a `fallback_message` entry for the fallback hop whose output is the answer; that
// entry is the documented sign that a fallback model served. Each attempt is billed at its own model's
// price, its input included, while the top-level counts are the serving hop's alone (SDK types
// BetaFallbackMessageIterationUsage, BetaIterationsUsage; platform.claude.com refusals-and-fallback).
import type { AttemptUsage, JsonObject } from '../usage.js';

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

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
    const read = num(entry.cache_read_input_tokens);
    const written = num(entry.cache_creation_input_tokens);
    const attempt: AttemptUsage = { model: nameOf(model), input: num(entry.input_tokens) + read + written, output: num(entry.output_tokens), cachedInput: read };
    if (written > 0) {
      attempt.cacheWriteInput = written;
      const split = entry.cache_creation as JsonObject | null | undefined;
      const oneHour = Math.min(num(split?.ephemeral_1h_input_tokens), written);
      if (oneHour > 0) attempt.cacheWrite1hInput = oneHour;
    }
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
