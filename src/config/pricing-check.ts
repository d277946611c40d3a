// A limit in USD prices each call from `pricing`; a model it covers without a price there would fail
// every call with `model_unpriced` (500). Found here instead, at the route model to blame, so
// `tollgate check` and a reload refuse the config rather than the gateway refusing the calls.
import type { Finding } from './cross-check.js';
import type { LimitSpec, Policy } from './policy.js';
import type { TollgateConfig } from './schema.js';

const MODEL_LISTS = ['chat_models', 'embedding_models'] as const;

/** Route models that a key reaches under a USD limit while `pricing` has no price for them. */
export function unpricedModels(config: TollgateConfig, policy: Policy): Finding[] {
  // Most configs price every model they route to: then no key needs looking at (20,000 took 0.4 s).
  if (Object.values(config.routes).every((route) => MODEL_LISTS.every((list) => (route[list] ?? []).every((m) => policy.pricing.has(m.model))))) return [];
  const usd = (limits: LimitSpec[] | undefined): string | undefined => limits?.find((l) => l.maxCostUsd !== undefined)?.name;
  const findings = new Map<string, Finding>();
  for (const key of policy.keys) {
    // The first USD limit that applies to this key whatever the route, named as in errors and metrics.
    const owners: Array<[string, LimitSpec[] | undefined]> = [
      [`org:${key.organization}`, policy.organizations.get(key.organization)?.limits],
      [`project:${key.project}`, key.project ? policy.projects.get(key.project)?.limits : undefined],
      [`user:${key.user ?? key.id}`, key.tier ? policy.tiers.get(key.tier)?.limits : undefined],
      ...key.groups.map((g): [string, LimitSpec[] | undefined] => [`group:${g}`, policy.groups.get(g)?.limits]),
    ];
    let keyLimit: string | undefined;
    for (const [owner, limits] of owners) {
      const name = usd(limits);
      if (name !== undefined) {
        keyLimit = `${owner}:${name}`;
        break;
      }
    }
    for (const [routeName, route] of Object.entries(config.routes)) {
      if (key.routes && !key.routes.includes(routeName)) continue;
      const routeUsd = usd(policy.routes.get(routeName)?.limits);
      const limit = keyLimit ?? (routeUsd === undefined ? undefined : `route:${routeName}:${routeUsd}`);
      if (limit === undefined) continue;
      for (const list of MODEL_LISTS) {
        (route[list] ?? []).forEach((m, i) => {
          const at = `${routeName}\u0000${list}\u0000${i}`;
          if (policy.pricing.has(m.model) || findings.has(at)) return;
          findings.set(at, {
            path: ['routes', routeName, list, i, 'model'],
            message: `no price for \`${m.model}\` under \`pricing\`, but the USD limit \`${limit}\` covers it (key \`${key.id}\`): every call would fail with model_unpriced; add \`pricing: {"${m.model}": {input: ..., output: ...}}\``,
          });
        });
      }
    }
  }
  return [...findings.values()];
}
