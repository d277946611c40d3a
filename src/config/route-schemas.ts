// The Radicalbit routes dialect: virtual models backed by provider models, with token limiting.
import * as z from 'zod';
import { routeLimitSchema } from './limit-schemas.js';
import { providerModelSchema } from './name-schema.js';
import { didYouMean } from './suggest.js';

/** One entry of `chat_models` / `embedding_models`. */
export const routeModelSchema = z.strictObject({
  model_id: z.string().regex(/^\S+$/, { message: 'a model_id must be a non-empty name without spaces' }),
  model: providerModelSchema,
});

/** `routes.<name>.token_limiting`. */
export const tokenLimitingSchema = z.strictObject({
  scope: z.enum(['route', 'user', 'group']).default('route'),
  input: routeLimitSchema.optional(),
  output: routeLimitSchema.optional(),
  total: routeLimitSchema.optional(),
});

/** `routes.<name>`. */
export const routeSchema = z
  .strictObject({
    chat_models: z.array(routeModelSchema).optional(),
    embedding_models: z.array(routeModelSchema).optional(),
    fallback: z.array(z.string()).optional(),
    token_limiting: tokenLimitingSchema.optional(),
  })
  .superRefine((route, ctx) => {
    const lists = [['chat_models', route.chat_models ?? []], ['embedding_models', route.embedding_models ?? []]] as const;
    if (lists.every(([, models]) => models.length === 0)) {
      ctx.addIssue({ code: 'custom', message: 'a route needs at least one model in `chat_models` or `embedding_models`' });
    }
    const seen = new Set<string>();
    for (const [list, models] of lists) {
      models.forEach((m, i) => {
        if (seen.has(m.model_id)) ctx.addIssue({ code: 'custom', path: [list, i, 'model_id'], message: `model_id \`${m.model_id}\` appears twice in this route` });
        seen.add(m.model_id);
      });
    }
    (route.fallback ?? []).forEach((id, i) => {
      if (!seen.has(id)) {
        ctx.addIssue({ code: 'custom', path: ['fallback', i], message: `\`${id}\` is not a model_id of this route (${didYouMean(id, [...seen])})` });
      }
    });
  });
