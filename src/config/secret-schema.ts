// The secrets clients present: `keys[].key`, `server.admin_key` and `metrics.bearer_token`.
import * as z from 'zod';
import { headerValueProblem } from './header-value.js';

// Node reads a request header's bytes as Latin-1 while the config's secret is hashed as UTF-8, so
// a secret beyond ASCII never matches what a client sends.
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A secret a request can carry. The gateway trims the `Authorization` / `x-api-key` value it is sent
 * (src/auth/key-store.ts, src/admin/admin-auth.ts), so a secret that is blank or starts or ends with
 * white space could never match: refused here rather than leaving a key, or the admin API, silently
 * unusable. So is one no request header can carry (a line break, a control character, non-ASCII).
 * Messages never echo the value.
 */
export const secretSchema = z
  .string()
  .min(1)
  .superRefine((secret, ctx) => {
    // Checked first: a trailing newline from `${VAR}` is better named as such than as white space.
    const unsendable = headerValueProblem(secret);
    if (unsendable !== undefined) {
      ctx.addIssue({ code: 'custom', message: unsendable });
      return;
    }
    const nonAscii = NON_ASCII.exec(secret);
    if (nonAscii) {
      const hex = `U+${nonAscii[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
      ctx.addIssue({ code: 'custom', message: `holds a character beyond ASCII (${hex}), which the gateway cannot match in a request header: use ASCII` });
      return;
    }
    if (secret === '' || secret === secret.trim()) return;
    const what = secret.trim() === '' ? 'is only white space' : 'starts or ends with white space';
    ctx.addIssue({ code: 'custom', message: `${what}, which no request can carry (the gateway trims the key it is sent)` });
  });
