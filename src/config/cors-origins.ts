// What `server.cors_origins` may hold: `"*"`, or origins written exactly as browsers send them in
// `Origin` (scheme://host[:port], lower case, no default port, no path). The gateway compares them as
// text, so `https://Tools.example.com/` would silently never match: it is refused with the right spelling.
import * as z from 'zod';

/** Why `text` is not an origin a browser would send, or undefined when it is one. */
export function corsOriginProblem(text: string): string | undefined {
  if (text === '*') return undefined;
  if (text.includes(',')) return 'write one origin per list item, e.g. `[https://a.example.com, https://b.example.com]`';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `\`${text}\` is not an origin: expected scheme://host[:port], such as \`https://tools.example.com\``;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `\`${text}\` is not an origin: it must start with http:// or https://`;
  if (url.origin === text) return undefined;
  if (url.username !== '' || url.password !== '') return `\`${text}\` is not an origin: an origin has no user name or password`;
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') return `\`${text}\` is not an origin: an origin has no path, query or fragment; write \`${url.origin}\``;
  if (text.endsWith('/') && `${url.origin}/` === text) return `\`${text}\` ends with a slash, which browsers never send in Origin; write \`${url.origin}\``;
  return `browsers send this origin as \`${url.origin}\` (lower case, without a default port); write that`;
}

/** `server.cors_origins`: `"*"` or a list of origins; `[]` (the default) turns CORS off. */
export const corsOriginsSchema = z
  .union([z.string(), z.array(z.string())])
  .superRefine((value, ctx) => {
    const list = typeof value === 'string' ? [value] : value;
    if (typeof value === 'string' && value !== '*') {
      ctx.addIssue({ code: 'custom', message: 'expected a list of origins (e.g. `[https://tools.example.com]`) or `"*"` for any origin' });
      return;
    }
    list.forEach((origin, i) => {
      const problem = corsOriginProblem(origin);
      if (problem) ctx.addIssue({ code: 'custom', path: typeof value === 'string' ? [] : [i], message: problem });
    });
    if (list.length > 1 && list.includes('*')) {
      ctx.addIssue({ code: 'custom', path: [list.indexOf('*')], message: '`*` allows every origin: write `cors_origins: "*"` alone, or list the origins' });
    }
  })
  // `"*"` and `["*"]` alike become `["*"]`.
  .transform((value) => (typeof value === 'string' ? [value] : value))
  .default([]);
