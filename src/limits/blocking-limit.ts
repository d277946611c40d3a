// Which limit refused a call, by the error the limits engine threw: what a refused call's ledger row names
// (proxy/refusals.ts) and what `tollgate simulate` counts its refusals under.
import type { Principal } from '../auth/principal.js';
import type { TollgateError } from '../errors/tollgate-error.js';
import type { AppliedLimit } from './applicable-limits.js';

/** The id under which a project's `request_limit` (the per-call cap) is reported, as `daily_limit` is `project:<id>:daily`. */
function requestLimitId(project: string): string {
  return `project:${project}:request`;
}

/** The id of the limit that refused the call, when one did (a store outage is no limit's doing). */
export function blockingLimit(err: TollgateError, applicable: AppliedLimit[], principal: Principal): string | undefined {
  const named = err.headers['x-tollgate-limit'];
  if (named) return named;
  if (err.code === 'request_over_limit') return principal.project ? requestLimitId(principal.project) : undefined;
  if (err.code === 'request_over_window' || err.code === 'output_over_window') return applicable.find((l) => l.label === err.params.label)?.id;
  return undefined;
}
