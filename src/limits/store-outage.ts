// Which limits fail open while the shared counter store is unreachable, and the log line that says so.
import type { LimitMode, OnStoreError } from '../config/policy.js';
import type { LimitStoreSetting } from './counter-store.js';

/** Whether a limit is counted locally while the store is down: shadow limits never refuse, so always. */
export function failsOpen(mode: LimitMode, onStoreError: OnStoreError | undefined, defaultMode: OnStoreError): boolean {
  return mode === 'shadow' || (onStoreError ?? defaultMode) === 'fail_open';
}

/**
 * The outage log line: the default mode, and which limits fail open / closed when overrides mix them
 * (the first 8 in the message, up to 50 in the fields). `settings` undefined: the limits are not known yet.
 */
export function outageMessage(
  settings: LimitStoreSetting[] | undefined,
  defaultMode: OnStoreError,
  instances: number,
): { msg: string; fail_open?: string[]; fail_closed?: string[] } {
  const local = `admitting against local counters (1/${instances} of each limit)`;
  const refuse = 'refusing requests with 503';
  const open: string[] = [];
  const closed: string[] = [];
  for (const l of settings ?? []) (failsOpen(l.mode, l.onStoreError, defaultMode) ? open : closed).push(l.id);
  if (open.length === 0 || closed.length === 0) {
    const what = defaultMode === 'fail_open' ? local : refuse;
    const note = settings ? '' : ' (limits with their own on_store_error follow it)';
    return { msg: `counter store unreachable: ${what}${note} until it answers again` };
  }
  const names = (ids: string[]): string => (ids.length <= 8 ? ids.join(', ') : `${ids.slice(0, 8).join(', ')} and ${ids.length - 8} more`);
  const cap = (ids: string[]): string[] => (ids.length <= 50 ? ids : [...ids.slice(0, 50), `... ${ids.length - 50} more`]);
  const closedPart = `${refuse} for requests that need a limit that fails closed (${closed.length}: ${names(closed)})`;
  const openPart = `${local} for requests whose limits all fail open (${open.length}: ${names(open)})`;
  const parts = defaultMode === 'fail_open' ? [openPart, closedPart] : [closedPart, openPart];
  return { msg: `counter store unreachable: ${parts.join('; ')} until it answers again`, fail_open: cap(open), fail_closed: cap(closed) };
}
