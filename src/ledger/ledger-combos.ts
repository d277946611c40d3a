// The limits each (key, route, model, endpoint) found in the ledger counts towards: the counter rebuild
// and audit resolve every such combination once. ApplicableLimits keeps a list per (key, route model) for
// the hot path, each limit its own object: kept for the ledger's tens of thousands of combinations, with
// about ten limits each, those objects were most of the rebuild's memory. Here combinations that share a
// counter share its AppliedLimit, so what stays is one object per counter (and price, for money limits)
// and one short list of references per combination.
import type { Policy } from '../config/policy.js';
import { principalOf } from '../auth/key-store.js';
import type { Principal } from '../auth/principal.js';
import type { Target } from '../routing/route-table.js';
import { ApplicableLimits, type AppliedLimit } from '../limits/applicable-limits.js';

/** What a combination's rows count towards. */
export interface ComboLimits {
  organization: string;
  /** The route model, `route/model_id`. */
  model: string;
  limits: AppliedLimit[];
}

/** The target a ledger row addressed, if its route and model still exist. */
export function targetOf(policy: Policy, route: string, modelId: string, endpoint: string): Target | undefined {
  const r = policy.routes.get(route);
  const kind = endpoint === 'embeddings' ? 'embedding' : 'chat';
  const model = r?.models.find((m) => m.modelId === modelId && m.kind === kind) ?? r?.models.find((m) => m.modelId === modelId);
  return r && model ? { route: r, model, qualifiedName: `${route}/${modelId}` } : undefined;
}

/** Resolves ledger combinations to their limits under one policy, sharing the limits' objects. */
export class LedgerCombos {
  private readonly applicable: ApplicableLimits;
  private readonly principals: Map<string, Principal>;
  /** By counter key (and prices, for money limits): the one AppliedLimit every combination refers to. */
  private readonly shared = new Map<string, AppliedLimit>();

  constructor(private readonly policy: Policy) {
    this.applicable = new ApplicableLimits(policy);
    this.principals = new Map(policy.keys.map((k) => [k.id, principalOf(k)]));
  }

  /** Undefined when the key, route or model is no longer configured, or a money limit lost the model's price. */
  resolve(keyId: string, route: string, modelId: string, endpoint: string): ComboLimits | undefined {
    const principal = this.principals.get(keyId);
    const target = principal && targetOf(this.policy, route, modelId, endpoint);
    if (!principal || !target) return undefined;
    let limits: AppliedLimit[];
    try {
      limits = this.applicable.uncached(principal, target);
    } catch {
      return undefined; // A money limit on a model that lost its price: nothing to weigh the rows with.
    }
    return { organization: principal.organization, model: target.qualifiedName, limits: limits.map((l) => this.share(l)) };
  }

  private share(limit: AppliedLimit): AppliedLimit {
    // The counter key names the owner, the limit and its algorithm, so only a money limit's weights (its
    // model's prices) differ between combinations with the same key.
    const { key, priced, weights } = limit.item;
    const id = priced ? `${key}\u0000${weights.input}\u0000${weights.output}` : key;
    const known = this.shared.get(id);
    if (known) return known;
    this.shared.set(id, limit);
    return limit;
  }
}
