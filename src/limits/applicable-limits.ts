// Which limits apply to a request, and the counter key each one is kept under.
import type { LimitSpec, Measure, Policy, Price } from '../config/policy.js';
import type { Principal } from '../auth/principal.js';
import type { Target } from '../routing/route-table.js';
import type { CounterItem, Weights } from './counter-store.js';
import { TollgateError } from '../errors/tollgate-error.js';

/** A limit attached to this request: the counter item plus what people need to read about it. */
export interface AppliedLimit {
  /** Stable name, shown in `x-tollgate-limit` and reports, e.g. `project:production:daily`. */
  id: string;
  /** For messages: "project 'production' daily limit". */
  label: string;
  unit: 'tokens' | 'requests' | 'usd';
  measure: Measure;
  item: CounterItem;
}

const TOKEN_WEIGHTS: Record<Measure, Weights> = {
  input: { input: 1, output: 0, request: 0 },
  output: { input: 0, output: 1, request: 0 },
  total: { input: 1, output: 1, request: 0 },
  requests: { input: 0, output: 0, request: 1 },
};

/** Cost weights in micro-USD per token: a price of $2.50 per million tokens is 2.5 µUSD per token. */
function costWeights(measure: Measure, price: Price): Weights {
  return {
    input: measure === 'output' ? 0 : price.input,
    output: measure === 'input' ? 0 : price.output,
    request: 0,
  };
}

/** The prefix of every counter key of an organization: one hash tag keeps them in one Redis Cluster slot. */
export function organizationTag(organization: string): string {
  return `tg:{${organization}}`;
}

interface Owner {
  id: string;
  label: string;
  keyPart: string;
}

/** Resolves and caches the limits for each (key, route, model): principals and routes are static per policy. */
export class ApplicableLimits {
  private readonly cache = new Map<string, AppliedLimit[]>();
  private readonly itemLists = new WeakMap<AppliedLimit[], CounterItem[]>();
  private readonly idLists = new WeakMap<AppliedLimit[], readonly string[]>();
  private readonly moneyLists = new WeakMap<AppliedLimit[], boolean>();

  constructor(private readonly policy: Policy) {}

  /** Every limit that applies to a call by `principal` to `target`, organization first. */
  for(principal: Principal, target: Target): AppliedLimit[] {
    const cacheKey = `${principal.keyId}\u0000${target.qualifiedName}`;
    let limits = this.cache.get(cacheKey);
    if (!limits) {
      limits = this.build(principal, target);
      this.cache.set(cacheKey, limits);
    }
    return limits;
  }

  /**
   * Like `for`, without keeping the list: for pairs resolved once each, as the counter rebuild and the
   * metrics' tracking do for every (key, route model) in the ledger (tens of thousands of lists the cache
   * would hold for good).
   */
  uncached(principal: Principal, target: Target): AppliedLimit[] {
    return this.build(principal, target);
  }

  /**
   * The request-counting limits of `principal`'s organization, project, tier and groups: what applies to a
   * call that names no model (a route's limits need one) and consumes no tokens. Cached per key.
   */
  requestLimitsFor(principal: Principal): AppliedLimit[] {
    const cacheKey = `${principal.keyId}\u0000`; // route names hold no NUL: never a `for` entry
    let limits = this.cache.get(cacheKey);
    if (!limits) {
      limits = this.build(principal, undefined, (spec) => spec.measure === 'requests' && spec.maxCostUsd === undefined);
      this.cache.set(cacheKey, limits);
    }
    return limits;
  }

  /** The counter items of a list returned by `for`, built once per list rather than once per request. */
  items(limits: AppliedLimit[]): CounterItem[] {
    let items = this.itemLists.get(limits);
    if (!items) {
      items = limits.map((l) => l.item);
      this.itemLists.set(limits, items);
    }
    return items;
  }

  /** Whether a list returned by `for` holds a money limit (its calls are then priced). */
  hasMoney(limits: AppliedLimit[]): boolean {
    let money = this.moneyLists.get(limits);
    if (money === undefined) {
      money = limits.some((l) => l.item.priced === true);
      this.moneyLists.set(limits, money);
    }
    return money;
  }

  /** The ids of a list returned by `for`, as one shared array (calls record it; nobody may change it). */
  ids(limits: AppliedLimit[]): readonly string[] {
    let ids = this.idLists.get(limits);
    if (!ids) {
      ids = Object.freeze(limits.map((l) => l.id));
      this.idLists.set(limits, ids);
    }
    return ids;
  }

  /** Without a target: the limits of the caller's levels only (no route's). `keep` chooses among the specs. */
  private build(principal: Principal, target: Target | undefined, keep: (spec: LimitSpec) => boolean = () => true): AppliedLimit[] {
    const p = this.policy;
    const org = principal.organization;
    const prefix = `${organizationTag(org)}:`;
    const out: AppliedLimit[] = [];
    const add = (owner: Owner, specs: LimitSpec[] | undefined): void => {
      for (const spec of specs ?? []) if (keep(spec)) out.push(this.applied(prefix, owner, spec, target));
    };

    add({ id: `org:${org}`, label: `organization '${org}'`, keyPart: 'org' }, p.organizations.get(org)?.limits);
    if (principal.project) {
      const project = principal.project;
      add({ id: `project:${project}`, label: `project '${project}'`, keyPart: `project:${project}` }, p.projects.get(project)?.limits);
    }
    if (principal.tier) {
      add(
        { id: `user:${principal.user}`, label: `user '${principal.user}' (tier ${principal.tier})`, keyPart: `user:${principal.user}` },
        p.tiers.get(principal.tier)?.limits,
      );
    }
    for (const group of principal.groups) {
      add({ id: `group:${group}`, label: `group '${group}'`, keyPart: `group:${group}` }, p.groups.get(group)?.limits);
    }
    const route = target?.route;
    if (route && route.limits.length > 0) {
      for (const owner of routeOwners(route.name, route.scope, principal)) add(owner, route.limits);
    }
    return out;
  }

  private applied(prefix: string, owner: Owner, spec: LimitSpec, target: Target | undefined): AppliedLimit {
    const id = `${owner.id}:${spec.name}`;
    let weights = TOKEN_WEIGHTS[spec.measure];
    let max = spec.max ?? 0;
    let unit: AppliedLimit['unit'] = spec.measure === 'requests' ? 'requests' : 'tokens';
    if (spec.maxCostUsd !== undefined) {
      // Never without a target: requestLimitsFor keeps no money limit.
      if (!target) throw new Error(`money limit ${id} applied without a model`);
      const priceKey = `${target.model.provider}/${target.model.upstreamModel}`;
      const price = this.policy.pricing.get(priceKey);
      if (!price) throw new TollgateError('model_unpriced', { model: priceKey, limit: id });
      weights = costWeights(spec.measure, price);
      max = spec.maxCostUsd * 1e6;
      unit = 'usd';
    }
    return {
      id,
      label: `${owner.label} ${spec.name} limit`,
      unit,
      measure: spec.measure,
      item: {
        key: `${prefix}${owner.keyPart}:${spec.name}:${spec.algorithm}`,
        algorithm: spec.algorithm,
        window: spec.window,
        max,
        weights,
        mode: spec.mode,
        ...(spec.onStoreError ? { onStoreError: spec.onStoreError } : {}),
        ...(unit === 'usd' ? { priced: true as const } : {}),
      },
    };
  }
}

/** Route limits are shared by the whole route, by each key (`user`), or by each of the key's groups. */
function routeOwners(route: string, scope: string, principal: Principal): Owner[] {
  const base = { id: `route:${route}`, label: `route '${route}'`, keyPart: `route:${route}` };
  if (scope === 'route') return [base];
  // A key in no group is its own group, so group-scoped limits still bind it.
  if (scope === 'group' && principal.groups.length > 0) {
    return principal.groups.map((g) => ({
      id: `${base.id}:group:${g}`,
      label: `${base.label} (group '${g}')`,
      keyPart: `${base.keyPart}:group:${g}`,
    }));
  }
  return [{ id: `${base.id}:key:${principal.keyId}`, label: `${base.label} (key '${principal.keyId}')`, keyPart: `${base.keyPart}:key:${principal.keyId}` }];
}
