// Budget leases (`storage.lease_ms`, leased-store.ts) and counters Redis lost. An instance admits requests
// against slices of a limit it reserved in Redis ahead; when Redis loses the counters, the rebuild from
// the ledger cannot see other instances' slices, and their unused room would be handed out twice (a
// hard limit passed by up to the slices unused at that moment). Every slice asked for before the loss
// can be admitted against for at most lease_ms from when it was asked for, so the rebuild first waits
// until lease_ms has passed since the loss was first noticed, by any instance (a key in Redis notes
// when, kept ten lease periods, so the instances that notice later wait only what is left). The ledger then holds what those slices
// were used for (up to the rows still in other instances' write buffers, as for any call).
import type { Clock } from '../../util/clock.js';

export interface LeaseWait {
  /** `storage.lease_ms`: the longest a slice asked for before a loss is admitted against. */
  ms: number;
  /** The clock leases measure their age on (monotonic, or a test's). */
  clock: Clock;
}

/** How often a wait looks at its clock: a test's clock moves when the test says. */
const POLL_MS = 20;

/**
 * Resolves once the slices asked for before a loss have ended: `sinceNoticed()` tells how long ago (ms) the
 * loss was first noticed; when it cannot (Redis does not answer, or a failover, which every
 * organization shares), the whole lease period is waited from now.
 */
export async function waitOutLeases(leases: LeaseWait, sinceNoticed?: () => Promise<number>): Promise<void> {
  let remaining = leases.ms;
  if (sinceNoticed) {
    try {
      remaining = leases.ms - (await sinceNoticed());
    } catch {
      // the whole period
    }
  }
  const deadline = leases.clock.now() + remaining;
  for (let left = remaining; left > 0; left = deadline - leases.clock.now()) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
  }
}
