// Anthropic's server-side fallback (`fallbacks` on /v1/messages) as the gateway handles it: every fallback
// model is one the key may use, addressed as the top-level `model` is and sent upstream by its route's
// upstream id; the reservation covers every attempt; the answer says which model served.
import type { Principal } from '../auth/principal.js';
import { invalidRequest, TollgateError } from '../errors/tollgate-error.js';
import { attemptMaxTokens, attemptSpeed, attemptThinking, interleavedThinking, MIN_THINKING_OUTPUT, readFallbacks } from '../providers/anthropic/index.js';
import type { JsonObject, Usage } from '../providers/usage.js';
import type { PriceHints } from '../limits/price-factors.js';
import type { Target } from '../routing/route-table.js';
import type { Gateway } from './gateway.js';
import { resolveTarget } from './request-context.js';

/** One `fallbacks` entry as the client sent it, and the route model it addresses. */
export interface FallbackAttempt {
  entry: JsonObject;
  target: Target;
}

/**
 * The request's fallback entries resolved against the key's routes (undefined when it names none), or the
 * error for the first that the key may not use (the 404 an unknown top-level model gets, naming the models
 * it can use) or that another provider serves (Anthropic falls back within the one call it was sent).
 */
export function resolveFallbacks(gw: Gateway, principal: Principal, body: JsonObject, target: Target): FallbackAttempt[] | undefined {
  const entries = readFallbacks(body);
  return entries?.map((entry, i) => {
    const at = `fallbacks.${i}.model`;
    let fallback: Target;
    try {
      fallback = resolveTarget(gw, principal, entry.model as string, 'messages');
    } catch (err) {
      if (err instanceof TollgateError) Object.assign(err, { message: `${at}: ${err.message}`, param: at });
      throw err;
    }
    if (fallback.model.provider !== target.model.provider) {
      throw invalidRequest(
        `${at}: '${entry.model as string}' is served by provider '${fallback.model.provider}', but '${body.model as string}' by '${target.model.provider}'. A fallback model must be one the same provider serves.`,
        at,
      );
    }
    // The call is admitted against the limits of the requested model's route, and its row is that route's:
    // a model of another route with limits of its own would run past them, unseen by them.
    if (fallback.route.name !== target.route.name && fallback.route.limits.length > 0) {
      throw invalidRequest(
        `${at}: '${entry.model as string}' is a model of route '${fallback.route.name}', whose token_limiting would not count this call (it is admitted and recorded on route '${target.route.name}' of '${body.model as string}'). A fallback model must be one of the same route, or of a route without token_limiting.`,
        at,
      );
    }
    return { entry, target: fallback };
  });
}

/** The max_tokens each attempt (the requested model first) asks for. */
export function attemptCaps(attempts: readonly FallbackAttempt[], asked: number): number[] {
  return [asked, ...attempts.map((a) => attemptMaxTokens(a.entry, asked))];
}

/**
 * The least max_tokens each fallback attempt can be sent with: room for manual extended thinking, else one
 * token (and one with interleaved thinking, whose budget may exceed max_tokens).
 */
export function attemptLeast(attempts: readonly FallbackAttempt[], body: JsonObject, beta: string | undefined): number[] {
  return attempts.map((a) => (interleavedThinking(beta) || manualBudget(attemptThinking(a.entry, body.thinking)) === undefined ? 1 : MIN_THINKING_OUTPUT));
}

/**
 * Each attempt's max_tokens for a grant of `output` tokens over all attempts (every attempt that runs is
 * billed, so together they must fit the grant): as asked when that fits, else one ceiling for all, as high
 * as fits, never below an attempt's least.
 */
export function splitGrant(caps: readonly number[], least: readonly number[], output: number): number[] {
  const at = (ceiling: number): number[] => caps.map((c, i) => Math.max(least[i] ?? 1, Math.min(c, ceiling)));
  const sum = (ceiling: number): number => at(ceiling).reduce((a, b) => a + b, 0);
  if (sum(Infinity) <= output) return [...caps];
  let lo = 0;
  let hi = Math.max(...caps);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (sum(mid) <= output) lo = mid;
    else hi = mid - 1;
  }
  return at(lo);
}

/**
 * The `fallbacks` to send upstream: each entry with its route's upstream model, and its max_tokens when the
 * grant lowered it (then a manual thinking budget it runs with comes down below it too, as the top-level's does,
 * unless thinking is interleaved).
 */
export function upstreamFallbacks(attempts: readonly FallbackAttempt[], body: JsonObject, caps: readonly number[], granted: readonly number[], beta: string | undefined): JsonObject[] {
  return attempts.map(({ entry, target }, i) => {
    const out: JsonObject = { ...entry, model: target.model.upstreamModel };
    const cap = granted[i + 1]!;
    if (cap < caps[i + 1]!) {
      out.max_tokens = cap;
      const thinking = attemptThinking(entry, body.thinking);
      const budget = interleavedThinking(beta) ? undefined : manualBudget(thinking);
      if (budget !== undefined && budget >= cap) out.thinking = { ...(thinking as JsonObject), budget_tokens: Math.max(MIN_THINKING_OUTPUT - 1, cap - 1) };
    }
    return out;
  });
}

/** What each fallback attempt may be billed at, for a money limit's reservation (price-factors.ts). */
export function fallbackPriceHints(attempts: readonly FallbackAttempt[], body: JsonObject): NonNullable<PriceHints['fallbacks']> {
  return attempts.map(({ entry, target }) => ({ model: target.model.upstreamModel, speed: attemptSpeed(entry, body.speed) }));
}

/**
 * Maps a model id Anthropic reports for an attempt to the upstream id the gateway sent (prices are
 * configured by it): the same, a dated snapshot of it or the alias of one; '' (an attempt reported without
 * its model) is the requested model. Any other id stays as reported.
 */
export function upstreamNameOf(top: Target, attempts: readonly FallbackAttempt[]): (model: string) => string {
  const known = [top.model.upstreamModel, ...attempts.map((a) => a.target.model.upstreamModel)];
  return (model) => {
    if (model === '') return known[0]!;
    return known.find((k) => k === model) ?? known.find((k) => model.startsWith(`${k}-`) || k.startsWith(`${model}-`)) ?? model;
  };
}

/**
 * The ledger's `fallback` for a call a fallback model served: `model:<route>/<model_id>` of that model (as
 * the gateway's own fallbacks are marked), its upstream id when no entry names it; undefined otherwise.
 */
export function fallbackTaken(usage: Usage, attempts: readonly FallbackAttempt[]): string | undefined {
  const served = usage.attempts?.at(-1)?.model;
  if (served === undefined) return undefined;
  const entry = attempts.find((a) => a.target.model.upstreamModel === served);
  return `model:${entry ? entry.target.qualifiedName : served}`;
}

/** The budget of manual extended thinking (`{type: "enabled", budget_tokens}`), else undefined. */
function manualBudget(thinking: unknown): number | undefined {
  if (typeof thinking !== 'object' || thinking === null) return undefined;
  const { type, budget_tokens: budget } = thinking as JsonObject;
  return type === 'enabled' && typeof budget === 'number' ? budget : undefined;
}
