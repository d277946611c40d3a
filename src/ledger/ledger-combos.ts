// The limits each combination of a call's recorded owner (organization, project, user, key, groups) and
// target (route, model, endpoint, upstream model) found in the ledger counts towards: the counter rebuild
// and audit resolve every such combination once. A row counts where it was charged when it was admitted,
// the project, user and groups it records, not where its key's current config would put it: a key moved
// from p to q left what it spent in p counted in q too, and a removed key's rows counted nowhere, so a
// restart handed its project a fresh day. The limits themselves (max, window, algorithm) are the current
// config's, so a limit added or changed by a reload still counts what was already spent under it.
//
// ApplicableLimits keeps a list per (key, route model) for the hot path, each limit its own object: kept
// for the ledger's tens of thousands of combinations, with about ten limits each, those objects were most
// of the rebuild's memory. Here combinations that share a counter share its AppliedLimit, so what stays is
// one object per counter (and price, for money limits) and one short list of references per combination.
import type { KeyPolicy, Policy, RoutePolicy } from '../config/policy.js';
import { principalOf } from '../auth/key-store.js';
import type { Principal } from '../auth/principal.js';
import type { Target } from '../routing/route-table.js';
import { ApplicableLimits, type AppliedLimit } from '../limits/applicable-limits.js';
import type { LedgerRow } from './ledger.js';

/**
 * What a ledger row records about whom a call was charged to and what it called (`provider` and `model`, the
 * model sent upstream: the price a money limit weighs the row with when its route model is gone).
 */
export type RecordedCall = Pick<LedgerRow, 'organization' | 'project' | 'user' | 'keyId' | 'groups' | 'route' | 'modelId' | 'endpoint' | 'provider' | 'model'>;

/** What a combination's rows count towards. */
export interface ComboLimits {
  organization: string;
  /** The route model, `route/model_id`. */
  model: string;
  limits: AppliedLimit[];
  /** Whether the key and the route model are still configured (the metrics track their limits). */
  configured: boolean;
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
  private readonly keys: Map<string, KeyPolicy>;
  /** By organization and user: the tier of the user's first configured key that has one. */
  private readonly userTiers = new Map<string, string>();
  /** By counter key (and prices, for money limits): the one AppliedLimit every combination refers to. */
  private readonly shared = new Map<string, AppliedLimit>();

  constructor(private readonly policy: Policy) {
    this.applicable = new ApplicableLimits(policy);
    this.keys = new Map(policy.keys.map((k) => [k.id, k]));
    for (const k of policy.keys) {
      const id = userId(k.organization, principalOf(k).user);
      if (k.tier !== undefined && !this.userTiers.has(id)) this.userTiers.set(id, k.tier);
    }
  }

  /** Undefined when a money limit cannot price the rows (its model lost its price): nothing to weigh them with. */
  resolve(call: RecordedCall): ComboLimits | undefined {
    const configured = targetOf(this.policy, call.route, call.modelId, call.endpoint);
    let limits: AppliedLimit[];
    try {
      limits = this.applicable.uncached(this.principal(call), configured ?? this.formerTarget(call));
    } catch {
      return undefined;
    }
    return {
      organization: call.organization,
      model: `${call.route}/${call.modelId}`,
      limits: limits.map((l) => this.share(l)),
      configured: this.keys.has(call.keyId) && configured !== undefined,
    };
  }

  /** Whom a recorded call counts against under this policy: as recorded, with the tier tierOf finds. */
  principal(call: RecordedCall): Principal {
    return {
      keyId: call.keyId,
      organization: call.organization,
      ...(call.project !== null ? { project: call.project } : {}),
      user: call.user,
      tier: this.tierOf(call, this.keys.get(call.keyId)),
      groups: call.groups,
    };
  }

  /** What a recorded call addressed under this policy: its route model, or the former one when that is gone. */
  target(call: RecordedCall): Target {
    return targetOf(this.policy, call.route, call.modelId, call.endpoint) ?? this.formerTarget(call);
  }

  /**
   * The ledger records the user, not the tier (a key's setting): the tier of the row's own key while it still
   * belongs to that user, else that of another key of the user. A user no key belongs to any more has no tier
   * and its per-user counters are read by no call: nothing to rebuild.
   */
  private tierOf(call: RecordedCall, key: KeyPolicy | undefined): string | undefined {
    if (key && key.organization === call.organization && principalOf(key).user === call.user) return key.tier;
    return this.userTiers.get(userId(call.organization, call.user));
  }

  /**
   * A route or model no longer configured: the row still counts towards its organization, project, user and
   * groups. A route that is gone has no limits left; money limits price the row as it was sent upstream.
   */
  private formerTarget(call: RecordedCall): Target {
    const route: RoutePolicy = this.policy.routes.get(call.route) ?? { name: call.route, models: [], fallback: [], scope: 'route', limits: [] };
    const kind = call.endpoint === 'embeddings' ? 'embedding' : 'chat';
    return { route, model: { modelId: call.modelId, provider: call.provider, upstreamModel: call.model, kind }, qualifiedName: `${call.route}/${call.modelId}` };
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

function userId(organization: string, user: string): string {
  return `${organization}\u0000${user}`;
}
