// Anthropic's server-side fallback as the mock acts it out (`fallbacks` on /v1/messages, beta
// `server-side-fallback-2026-07-01`): the models named in `mock_refuse_models` decline; the next entry of
// `fallbacks` then runs with its own overrides (max_tokens, thinking, speed). As the API reports it (SDK
// types BetaFallbackBlock, BetaFallbackMessageIterationUsage, BetaRefusalStopDetails): the message's
// `model` is the model that served; a `fallback` block {from, to, trigger} marks each hop ahead of the
// served content (streamed as a content_block_start/stop pair without deltas, the stream's message_start
// still naming the requested model); `usage.iterations` has a `message` entry per declined hop and a
// `fallback_message` entry for the hop that served, while the top-level counts are the serving hop's. A
// declined hop here produces no output.

/** The keys a `fallbacks` entry may have; any other is rejected at parse time. */
const ENTRY_KEYS: ReadonlySet<string> = new Set(['model', 'max_tokens', 'thinking', 'output_config', 'speed']);

/** How one request's attempts went. */
export interface FallbackRun {
  /** The body the answering attempt runs with: its model, max_tokens, thinking and speed. */
  served: Record<string, unknown>;
  /** The models that ran and declined before it, in order (the requested one first). */
  declined: string[];
  /** The answering attempt declined too: the answer is a refusal. */
  refused: boolean;
}

/** Anthropic's message for a malformed `fallbacks`, or undefined when it is well formed (or absent). */
export function invalidFallbacks(body: Record<string, unknown>): string | undefined {
  const fallbacks = body.fallbacks;
  if (fallbacks === undefined || fallbacks === null || fallbacks === 'default') return undefined;
  if (!Array.isArray(fallbacks)) return 'fallbacks: Input should be a valid list';
  if (fallbacks.length > 3) return 'fallbacks: List should have at most 3 items after validation, not ' + fallbacks.length;
  for (const [i, entry] of fallbacks.entries()) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return `fallbacks.${i}: Input should be a valid dictionary or object to extract fields from`;
    if (typeof (entry as Record<string, unknown>).model !== 'string') return `fallbacks.${i}.model: Field required`;
    for (const key of Object.keys(entry)) if (!ENTRY_KEYS.has(key)) return `fallbacks.${i}.${key}: Extra inputs are not permitted`;
  }
  return undefined;
}

/** The body of the attempt on `entry`: the request with the entry's model and overrides (a null override: the request's max_tokens, no thinking, standard speed). */
function attemptBody(body: Record<string, unknown>, entry: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body, model: entry.model };
  if (typeof entry.max_tokens === 'number') out.max_tokens = entry.max_tokens;
  for (const key of ['thinking', 'speed'] as const) {
    if (!(key in entry)) continue;
    if (entry[key] === null) delete out[key];
    else out[key] = entry[key];
  }
  return out;
}

/** Runs the request's attempts: each model in `refuse` declines, and the next one is tried while there is one. */
export function runFallbacks(body: Record<string, unknown>, refuse: readonly string[]): FallbackRun {
  const entries = Array.isArray(body.fallbacks) ? (body.fallbacks as Array<Record<string, unknown>>) : [];
  const attempts = [body, ...entries.map((e) => attemptBody(body, e))];
  const declined: string[] = [];
  for (const attempt of attempts.slice(0, -1)) {
    if (!refuse.includes(attempt.model as string)) return { served: attempt, declined, refused: false };
    declined.push(attempt.model as string);
  }
  const last = attempts.at(-1)!;
  return { served: last, declined, refused: refuse.includes(last.model as string) };
}

/** The `fallback` block of each hop: from the model that declined to the one tried next. */
export function fallbackBlocks(run: FallbackRun): Array<Record<string, unknown>> {
  const chain = [...run.declined, run.served.model as string];
  return run.declined.map((from, i) => ({ type: 'fallback', from: { model: from }, to: { model: chain[i + 1] }, trigger: { type: 'refusal', category: 'cyber' } }));
}

/** A refusal's `stop_details`, as the API sends it with the server-side-fallback beta (no credit offered). */
export const REFUSAL_DETAILS: Readonly<Record<string, unknown>> = Object.freeze({
  type: 'refusal',
  category: 'cyber',
  explanation: 'This request triggered restrictions on violative cyber content and was blocked under Anthropic\'s Usage Policy.',
  fallback_credit_token: null,
  fallback_has_prefill_claim: null,
  recommended_model: null,
});

/** One `usage.iterations` entry: a declined hop's `message`, or the serving hop's `fallback_message`. */
export function iterationUsage(type: 'message' | 'fallback_message', model: string, usage: Record<string, unknown>): Record<string, unknown> {
  return {
    type,
    model,
    input_tokens: usage.input_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens,
    cache_read_input_tokens: usage.cache_read_input_tokens,
    cache_creation: usage.cache_creation ?? null,
    output_tokens: usage.output_tokens,
  };
}
