// Keeps the headroom of limits on /metrics across reloads and restarts: the (key, route model) pairs seen
// are tracked again under each new configuration, a few hundred per turn of the event loop.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Gateway } from '../proxy/gateway.js';
import { principalOf } from '../auth/key-store.js';
import type { GatewayMetrics } from './gateway-metrics.js';

/**
 * After a (re)load: forgets the limits tracked under the old config and tracks the same (key, route model)
 * pairs' limits under the new one; pairs whose key or model is gone are dropped.
 */
export async function retrack(gateway: Gateway, metrics: GatewayMetrics, tracked: Map<string, { keyId: string; model: string }>, stillCurrent: () => boolean): Promise<void> {
  metrics.resetLimits();
  if (tracked.size === 0) return;
  const keys = new Map(gateway.policy.keys.map((k) => [k.id, k]));
  let resolved = 0;
  // A copy: calls tracked meanwhile are tracked under this config already.
  for (const [combo, { keyId, model }] of [...tracked]) {
    // Tens of thousands of pairs after a rebuild (5,000 keys on 20 models: 0.86 s) would hold the event loop.
    if (++resolved % RETRACK_PAIRS_PER_TURN === 0) {
      await nextTurn();
      if (!stillCurrent()) return; // reloaded again meanwhile: that config's retrack has started over
    }
    const key = keys.get(keyId);
    const principal = key && principalOf(key);
    const target = principal && (gateway.routes.resolve(principal, model, 'chat') ?? gateway.routes.resolve(principal, model, 'embedding'));
    if (!principal || !target || target.qualifiedName !== model) {
      tracked.delete(combo);
      continue;
    }
    try {
      // Not `for`: its cache would keep a list of limits for every pair in the ledger's month (tens of
      // thousands after a rebuild, about ten limits each) for good; metrics keeps one limit per counter.
      metrics.trackLimits(principal.organization, gateway.engine.applicable.uncached(principal, target));
    } catch {
      tracked.delete(combo); // e.g. a money limit on a model the new config does not price
    }
  }
}

/** Pairs resolved between two turns of the event loop (a few ms). */
const RETRACK_PAIRS_PER_TURN = 256;
