// Telling "the store is unreachable" (fail open or closed, and stop asking it for a while) apart from
// "this call was wrong" (a bug: fail this request per its mode, but the store itself is fine).

/** A request was refused because a limit set to `fail_closed` cannot be checked; the engine answers 503. */
export class StoreUnavailableError extends Error {
  constructor() {
    super('counter store unavailable');
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The store lost its counters (Redis restarted empty, or flushed) and they cannot be rebuilt from the
 * ledger now (its database does not answer). The store itself is fine; admitting against empty counters
 * would hand every budget out again, so limits that fail closed refuse until the rebuild succeeds.
 */
export class CountersNotRebuiltError extends Error {
  constructor(
    cause: string,
    /** Set when the rebuild is under way, only slower than this, the most a request waits for it (`storage.rebuild_wait_ms`). */
    readonly waitedMs?: number,
  ) {
    super(`the counters the store lost ${waitedMs === undefined ? 'cannot be rebuilt from the ledger now' : 'are not rebuilt yet'}: ${cause}`);
    this.name = 'CountersNotRebuiltError';
  }
}

/** A call the store refused as malformed (e.g. one reservation spanning two organizations' hash tags). */
export class StoreUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreUsageError';
  }
}

// Replies Redis gives while it is failing over, loading, resharding, busy or out of memory: the store
// cannot count now.
const TRANSIENT_REPLY = /^(CLUSTERDOWN|LOADING|MASTERDOWN|READONLY|TRYAGAIN|BUSY|NOREPLICAS|MOVED|ASK|OOM)\b/;

/** True for Redis's refusal of a command (or a key) by the user's ACL, outside a script or inside one. */
export function isPermissionRefusal(err: unknown): boolean {
  return err instanceof Error && /\bNOPERM\b|The user executing the script can't/.test(err.message);
}

/** True when an error means the store cannot answer (timeout, connection, failover), not that the call was wrong. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreUsageError || err instanceof CountersNotRebuiltError) return false;
  // A user whose ACL refuses a command the counters need cannot count any call, not just this one.
  if (err instanceof Error && err.name === 'ReplyError') return TRANSIENT_REPLY.test(err.message) || isPermissionRefusal(err);
  return true;
}

/** ioredis's message for a command past its timeout; the Redis store's own call deadline uses it too. */
export const COMMAND_TIMED_OUT = 'Command timed out';

/** A command that got no answer within the timeout: maybe Redis is slow, maybe this process was stalled. */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === COMMAND_TIMED_OUT;
}
