// The hierarchical-limits dialect: organization(s), projects, user tiers, groups and the alert ladder.
import * as z from 'zod';
import { rateLimitSchema, tokenLimitSchema } from './limit-schemas.js';

/** `organization` / `organizations.<id>`: whole-organization budgets. */
export const organizationSchema = z.strictObject({
  monthly_budget: tokenLimitSchema.optional(),
  daily_cap: tokenLimitSchema.optional(),
});

/** `projects.<name>`: a team or application. */
export const projectSchema = z.strictObject({
  daily_limit: tokenLimitSchema,
  monthly_limit: tokenLimitSchema.optional(),
  request_limit: z.number().int().positive().optional(),
  priority: z.enum(['high', 'low']).default('low'),
});

/** `users.<tier>`: limits applied to each user of the tier separately. */
export const tierSchema = z.strictObject({
  daily_limit: tokenLimitSchema.optional(),
  monthly_limit: tokenLimitSchema.optional(),
  rate_limit: rateLimitSchema.optional(),
});

/** `groups.<name>`: limits shared by all member keys together. */
export const groupSchema = z.strictObject({
  daily_limit: tokenLimitSchema.optional(),
  monthly_limit: tokenLimitSchema.optional(),
  rate_limit: rateLimitSchema.optional(),
});

const fallbackSchema = z.enum(['cache', 'model', 'error']);

/** One rung of the `alerts` ladder. */
export const alertSchema = z
  .strictObject({
    threshold: z.number().gt(0).lte(1.5),
    action: z.enum(['warn', 'throttle', 'block']),
    channels: z.array(z.enum(['slack', 'webhook', 'email', 'log'])).default([]),
    reduction: z.number().gt(0).lt(1).optional(),
    fallback: z.union([fallbackSchema, z.array(fallbackSchema).min(1)]).optional(),
  })
  .superRefine((alert, ctx) => {
    if (alert.reduction !== undefined && alert.action !== 'throttle') {
      ctx.addIssue({ code: 'custom', path: ['reduction'], message: '`reduction` applies only to `action: throttle`' });
    }
    if (alert.fallback !== undefined && alert.action !== 'block') {
      ctx.addIssue({ code: 'custom', path: ['fallback'], message: '`fallback` applies only to `action: block`' });
    }
    const chain = typeof alert.fallback === 'string' ? [alert.fallback] : (alert.fallback ?? []);
    const errorAt = chain.indexOf('error');
    // `error` answers the request, so anything after it could never run.
    if (errorAt !== -1 && errorAt !== chain.length - 1) {
      ctx.addIssue({ code: 'custom', path: ['fallback'], message: '`error` must be the last fallback' });
    }
  });
