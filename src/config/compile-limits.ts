// Turns the limit fields of both dialects into runtime LimitSpecs with their windows and defaults.
import type { RateLimitInput, RouteLimitInput, TokenLimitInput } from './limit-schemas.js';
import type { LimitSpec, Measure, OnStoreError, WindowSpec } from './policy.js';
import { parseWindowSize } from './window-size.js';

const DAY: WindowSpec = { kind: 'calendar', unit: 'day' };
const MONTH: WindowSpec = { kind: 'calendar', unit: 'month' };
const MINUTE: WindowSpec = { kind: 'duration', ms: 60_000 };

function budget(spec: { max_token?: number; max_cost_usd?: number }): Pick<LimitSpec, 'max' | 'maxCostUsd'> {
  return spec.max_token !== undefined ? { max: spec.max_token } : { maxCostUsd: spec.max_cost_usd! };
}

function storeError(spec: { on_store_error?: OnStoreError }): Pick<LimitSpec, 'onStoreError'> {
  return spec.on_store_error !== undefined ? { onStoreError: spec.on_store_error } : {};
}

function tokenLimit(name: string, window: WindowSpec, value: TokenLimitInput): LimitSpec {
  if (typeof value === 'number') return { name, measure: 'total', algorithm: 'fixed_window', window, max: value, mode: 'enforce' };
  return {
    name,
    measure: 'total',
    algorithm: value.algorithm ?? 'fixed_window',
    window,
    ...budget(value),
    mode: value.mode ?? 'enforce',
    ...storeError(value),
  };
}

function rateLimit(value: RateLimitInput): LimitSpec {
  // Requests per minute: a sliding window avoids letting twice the rate through at a minute boundary.
  if (typeof value === 'number') return { name: 'rate', measure: 'requests', algorithm: 'sliding_window', window: MINUTE, max: value, mode: 'enforce' };
  return {
    name: 'rate',
    measure: 'requests',
    algorithm: value.algorithm ?? 'sliding_window',
    window: MINUTE,
    max: value.max_requests,
    mode: value.mode ?? 'enforce',
    ...storeError(value),
  };
}

/** The limit fields a hierarchy level may carry (`daily_cap`/`monthly_budget` are mapped onto these). */
export interface LevelLimits {
  daily?: TokenLimitInput;
  monthly?: TokenLimitInput;
  rate?: RateLimitInput;
}

/** LimitSpecs for an organization, project, tier or group: `daily`, `monthly`, `rate`, in that order. */
export function compileLevelLimits(level: LevelLimits): LimitSpec[] {
  const limits: LimitSpec[] = [];
  if (level.daily !== undefined) limits.push(tokenLimit('daily', DAY, level.daily));
  if (level.monthly !== undefined) limits.push(tokenLimit('monthly', MONTH, level.monthly));
  if (level.rate !== undefined) limits.push(rateLimit(level.rate));
  return limits;
}

/** LimitSpecs for a route's `token_limiting`: `input`, `output`, `total`, each counting its own measure. */
export function compileRouteLimits(limiting: Partial<Record<'input' | 'output' | 'total', RouteLimitInput>>): LimitSpec[] {
  const limits: LimitSpec[] = [];
  for (const measure of ['input', 'output', 'total'] as const satisfies readonly Measure[]) {
    const spec = limiting[measure];
    if (!spec) continue;
    // The schema already rejected unparsable sizes.
    const window = parseWindowSize(spec.window_size)!;
    limits.push({ name: measure, measure, algorithm: spec.algorithm, window, ...budget(spec), mode: spec.mode ?? 'enforce', ...storeError(spec) });
  }
  return limits;
}
