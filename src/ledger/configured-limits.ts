// The limits every configured key is charged to on every model its routes serve: the counters that can
// hold usage now, whether or not the ledger has a row for them (the audit reads them all, so that a
// counter whose rows were all lost is not left out).
import type { Policy } from '../config/policy.js';
import { principalOf } from '../auth/key-store.js';
import type { AppliedLimit } from '../limits/applicable-limits.js';
import { LedgerCombos } from './ledger-combos.js';

/** One entry per counter (its organization's), as a call of each configured key to each of its models would charge it. */
export function configuredLimits(policy: Policy): Array<{ organization: string; limit: AppliedLimit }> {
  const combos = new LedgerCombos(policy);
  const out = new Map<string, { organization: string; limit: AppliedLimit }>();
  for (const key of policy.keys) {
    const p = principalOf(key);
    for (const route of policy.routes.values()) {
      if (p.routes && !p.routes.includes(route.name)) continue;
      for (const m of route.models) {
        const combo = combos.resolve({
          organization: p.organization,
          project: p.project ?? null,
          user: p.user,
          keyId: p.keyId,
          groups: p.groups,
          route: route.name,
          modelId: m.modelId,
          endpoint: m.kind === 'embedding' ? 'embeddings' : 'chat',
          provider: m.provider,
          model: m.upstreamModel,
        });
        for (const limit of combo?.limits ?? []) if (!out.has(limit.item.key)) out.set(limit.item.key, { organization: combo!.organization, limit });
      }
    }
  }
  return [...out.values()];
}
