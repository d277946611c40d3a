// Ties a body, its endpoint and its model to the two meters: a cheap bound now, the exact count on demand.
import { isRecord } from './content-parts.js';
import { countChat } from './count-chat.js';
import { countMessages } from './count-messages.js';
import { countCompletions, countEmbeddings } from './count-prompt.js';
import { countResponses } from './count-responses.js';
import { BoundMeter, ExactMeter, type Meter } from './meter.js';
import { profileFor, type Profile } from './model-profile.js';

/** Which wire endpoint a request body belongs to. */
export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'responses' | 'messages';

/** A cheap upper bound now, and the exact count on demand (computed once). */
export interface InputEstimate {
  /** Never less than the exact count; cheap to compute. */
  upperBound: number;
  /** The tokenizer's count as the provider would bill it (cached after the first call). */
  exact(): number;
}

type Walker = (body: Record<string, unknown>, m: Meter) => number;

const WALKERS: Record<Endpoint, Walker> = {
  chat: countChat,
  completions: countCompletions,
  embeddings: countEmbeddings,
  responses: countResponses,
  messages: countMessages,
};

// Meters hold no per-request state, so one pair per profile serves every request.
const meters = new WeakMap<Profile, { bound: BoundMeter; exact: ExactMeter }>();

/** The bound and exact meters for `model`. */
export function metersFor(model: string): { bound: BoundMeter; exact: ExactMeter } {
  const profile = profileFor(model);
  let pair = meters.get(profile);
  if (!pair) {
    pair = { bound: new BoundMeter(profile), exact: new ExactMeter(profile) };
    meters.set(profile, pair);
  }
  return pair;
}

function tryWalk(walk: Walker, body: Record<string, unknown>, m: Meter): number | undefined {
  try {
    return walk(body, m);
  } catch {
    return undefined;
  }
}

/** Estimates the input tokens of a request body for `model`. */
export function estimateInput(endpoint: Endpoint, body: Record<string, unknown>, model: string): InputEstimate {
  const { bound, exact } = metersFor(model);
  const b = isRecord(body) ? body : {};
  const walk = Object.hasOwn(WALKERS, endpoint) ? WALKERS[endpoint] : undefined;
  const walked = walk && tryWalk(walk, b, bound);
  // A body or endpoint we cannot walk is still counted, as its whole JSON, and never rejected here.
  const upperBound = walked ?? bound.profile.perRequest + bound.any(b);
  let cached: number | undefined;
  return {
    upperBound,
    // Should the exact walk fail where the bound's did not, the bound is the safe answer.
    exact: () => (cached ??= walk && walked !== undefined ? (tryWalk(walk, b, exact) ?? upperBound) : upperBound),
  };
}

/** Counts the tokens of plain text for `model` (used for streamed output without usage). */
export function countTextTokens(text: string, model: string): number {
  return typeof text === 'string' ? metersFor(model).exact.text(text) : 0;
}
