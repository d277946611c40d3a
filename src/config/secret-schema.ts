// The secrets clients present: `keys[].key`, `server.admin_key` and `metrics.bearer_token`.
import * as z from 'zod';

/**
 * A secret a request can carry. The gateway trims the `Authorization` / `x-api-key` value it is sent
 * (src/auth/key-store.ts, src/admin/admin-auth.ts), so a secret that is blank or starts or ends with
 * white space could never match: refused here rather than leaving a key, or the admin API, silently
 * unusable. Messages never echo the value.
 */
export const secretSchema = z
  .string()
  .min(1)
  .superRefine((secret, ctx) => {
    if (secret === '' || secret === secret.trim()) return;
    const what = secret.trim() === '' ? 'is only white space' : 'starts or ends with white space';
    ctx.addIssue({ code: 'custom', message: `${what}, which no request can carry (the gateway trims the key it is sent)` });
  });
