// The one schema for a Tollgate config file: validation, defaults and the TypeScript types
// all come from here, and docs/configuration.md is checked against it by a test.
import * as z from 'zod';
import { enforcementSchema, pricingSchema, providersSchema, serverSchema, storageSchema } from './gateway-schemas.js';
import { alertSchema, groupSchema, organizationSchema, projectSchema, tierSchema } from './hierarchy-schemas.js';
import { keySchema } from './key-schema.js';
import { nameSchema } from './name-schema.js';
import { routeSchema } from './route-schemas.js';
import { ledgerSchema, metricsSchema } from './usage-schemas.js';

/** The whole (merged) configuration, strict at every level. */
export const configSchema = z
  .strictObject({
    server: serverSchema.prefault({}),
    storage: storageSchema.prefault({}),
    enforcement: enforcementSchema.prefault({}),
    ledger: ledgerSchema.prefault({}),
    metrics: metricsSchema.prefault({}),
    // Left undefined when absent: no `providers` section means "use the built-in openai and anthropic".
    providers: providersSchema.optional(),
    pricing: pricingSchema.default({}),
    organization: organizationSchema.optional(),
    organizations: z.record(nameSchema, organizationSchema).optional(),
    projects: z.record(nameSchema, projectSchema).default({}),
    users: z.record(nameSchema, tierSchema).default({}),
    groups: z.record(nameSchema, groupSchema).default({}),
    alerts: z.array(alertSchema).default([]),
    routes: z.record(nameSchema, routeSchema).default({}),
    keys: z.array(keySchema).default([]),
  })
  .superRefine((config, ctx) => {
    if (config.organization !== undefined && config.organizations !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['organizations'],
        message: 'use either `organization` (one organization) or `organizations` (several), not both',
      });
    }
    if (config.organizations !== undefined && Object.keys(config.organizations).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['organizations'], message: 'must name at least one organization' });
    }
  });

/** A validated config with defaults filled in, before compiling to a Policy. */
export type TollgateConfig = z.output<typeof configSchema>;
/** A config as written (after interpolation and merging). */
export type TollgateConfigInput = z.input<typeof configSchema>;
