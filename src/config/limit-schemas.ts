// Limit values shared by every level of the hierarchy and by routes: a bare number of tokens,
// or a mapping that picks tokens or dollars, the algorithm and enforce/shadow mode.
import * as z from 'zod';
import { parseWindowSize, windowSizeProblem } from './window-size.js';

/** How a limit counts over its window. */
export const algorithmSchema = z.enum(['fixed_window', 'sliding_window', 'token_bucket']);
/** `enforce` blocks; `shadow` only counts and reports. */
export const modeSchema = z.enum(['enforce', 'shadow']);
/** What a limit does while the shared counter store is unreachable (overrides `storage.on_store_error`). */
export const onStoreErrorSchema = z.enum(['fail_closed', 'fail_open']);

// Zero is allowed on purpose: a limit of 0 switches a scope off without deleting it.
const tokenCount = z.number().int().nonnegative();
const dollars = z.number().nonnegative();

function exactlyOneBudget(value: { max_token?: unknown; max_cost_usd?: unknown }, ctx: z.RefinementCtx): void {
  if ((value.max_token === undefined) === (value.max_cost_usd === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'set exactly one of `max_token` (tokens) and `max_cost_usd` (dollars)' });
  }
}

const tokenLimitObject = z
  .strictObject({
    max_token: tokenCount.optional(),
    max_cost_usd: dollars.optional(),
    algorithm: algorithmSchema.optional(),
    mode: modeSchema.optional(),
    on_store_error: onStoreErrorSchema.optional(),
  })
  .superRefine(exactlyOneBudget);

/** `daily_limit`, `monthly_limit`, `daily_cap`, `monthly_budget`: tokens as a number, or the long form. */
export const tokenLimitSchema = z.union([tokenCount, tokenLimitObject]);

/** `rate_limit`: requests per minute as a number, or the long form. */
export const rateLimitSchema = z.union([
  z.number().int().nonnegative(),
  z.strictObject({
    max_requests: z.number().int().nonnegative(),
    algorithm: algorithmSchema.optional(),
    mode: modeSchema.optional(),
    on_store_error: onStoreErrorSchema.optional(),
  }),
]);

/** A `window_size` string; parsed into a window by parseWindowSize when compiling. */
export const windowSizeSchema = z
  .string()
  .superRefine((text, ctx) => {
    if (!parseWindowSize(text)) ctx.addIssue({ code: 'custom', message: windowSizeProblem(text) });
  })
  // Named in "required field is missing (expected ...)" and "expected ..., got" messages (zod-issues.ts).
  .meta({ expected: 'a window size such as `1 hour`' });

/** One of a route's `token_limiting.input|output|total` limits (Radicalbit dialect). */
export const routeLimitSchema = z
  .strictObject({
    algorithm: algorithmSchema,
    window_size: windowSizeSchema,
    max_token: tokenCount.optional(),
    max_cost_usd: dollars.optional(),
    mode: modeSchema.optional(),
    on_store_error: onStoreErrorSchema.optional(),
  })
  .superRefine(exactlyOneBudget);

export type TokenLimitInput = z.output<typeof tokenLimitSchema>;
export type RateLimitInput = z.output<typeof rateLimitSchema>;
export type RouteLimitInput = z.output<typeof routeLimitSchema>;
