// `keys`: virtual API keys and the principal each one resolves to.
import * as z from 'zod';
import { nameSchema } from './name-schema.js';
import { secretSchema } from './secret-schema.js';

/** Who a key stands for: the fields a config key and a key made through the admin API share. */
export const keyPrincipalShape = {
  organization: nameSchema.optional(),
  user: nameSchema.optional(),
  tier: nameSchema.optional(),
  project: nameSchema.optional(),
  groups: z.array(nameSchema).default([]),
  routes: z.array(nameSchema).optional(),
};

/** The checks of keyPrincipalShape's fields that need several of them. */
export function refineKeyPrincipal(k: { user?: string; tier?: string; groups: string[] }, ctx: z.RefinementCtx): void {
  // Tier limits are counted per user, so a tier without a user has nothing to count against.
  if (k.tier !== undefined && k.user === undefined) {
    ctx.addIssue({ code: 'custom', path: ['tier'], message: '`tier` needs `user` (tier limits apply to each user)' });
  }
  // Each entry is a membership: a group written twice would have its limits count every call twice.
  k.groups.forEach((g, i) => {
    if (k.groups.indexOf(g) !== i) ctx.addIssue({ code: 'custom', path: ['groups', i], message: `group \`${g}\` is listed twice: keep one (its limits would count each call twice)` });
  });
}

/** One entry of `keys`. */
export const keySchema = z
  .strictObject({
    id: nameSchema,
    // Secret messages never echo the value: these are exactly the strings that must not leak.
    key: secretSchema.optional(),
    key_sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, { message: 'expected 64 hexadecimal characters (a SHA-256 digest)' }).optional(),
    ...keyPrincipalShape,
  })
  .superRefine((k, ctx) => {
    if ((k.key === undefined) === (k.key_sha256 === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'set exactly one of `key` (the secret) and `key_sha256` (its SHA-256)' });
    }
    refineKeyPrincipal(k, ctx);
  });
