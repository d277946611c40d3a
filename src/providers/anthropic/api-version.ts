// What an `anthropic-version` takes: API version 2026-10-21 removed the sampling parameters (`temperature`,
// `top_p`, `top_k` are a 400 even at their defaults; platform.claude.com/docs/en/api/migration-2026-10-21).

/** The first API version without `temperature`, `top_p` and `top_k`. */
export const SAMPLING_REMOVED_IN = '2026-10-21';

const DATED = /^\d{4}-\d\d-\d\d$/;

/** Whether requests sent under `version` may carry the sampling parameters (an unreadable version: yes, as before). */
export function takesSampling(version: string | undefined): boolean {
  return version === undefined || !DATED.test(version) || version < SAMPLING_REMOVED_IN;
}
