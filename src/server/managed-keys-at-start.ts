// The gateway's managed keys (auth/key-ring.ts): read from the ledger before the first request, applied
// with every policy the gateway builds, and logged when one is left out or cannot be read.
import type pino from 'pino';
import { KeyRing } from '../auth/key-ring.js';
import type { KeyTable } from '../auth/key-table.js';
import { withManagedKeys } from '../auth/managed-key.js';
import type { Policy } from '../config/policy.js';
import type { DrainState } from '../proxy/drain-state.js';

/**
 * The ring of managed keys, read once. A table that cannot be read now (a PostgreSQL ledger not reachable
 * yet) leaves the gateway starting without them: they are refused, as unknown keys, until a refresh reads them.
 */
export async function loadKeyRing(table: KeyTable, reload: (why: string) => Promise<void>, log: pino.Logger, drain: DrainState): Promise<KeyRing> {
  let failing = false;
  const ring = new KeyRing({
    table,
    apply: () => (drain.draining ? Promise.resolve() : reload('managed keys changed')),
    onRead: (err) => {
      // Once per outage, not every refresh; nothing to say while the gateway stops (the ledger closes).
      if (drain.draining || failing === (err !== undefined)) return;
      failing = err !== undefined;
      if (err) log.warn({ error: err.message }, 'could not read the managed keys from the ledger; the keys in force stay until it answers (at start: managed keys are refused until then)');
      else log.info({}, 'managed keys read from the ledger again');
    },
  });
  await ring.load().catch(() => {});
  return ring;
}

/** `config` with the ring's keys; a key left out is logged with why. */
export function withKeysOf(ring: KeyRing, config: Policy, log: pino.Logger, why: string): Policy {
  const { policy, skipped } = withManagedKeys(config, ring.keys);
  for (const s of skipped) log.warn({ why, key: s.id }, `managed key ${s.id} is refused: ${s.why}`);
  return policy;
}
