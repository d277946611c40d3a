// The names a client can put in `model` for a list of route models: `route/model_id` always, the bare
// `model_id` for the first route model that has it, and the route's name alone for its first model
// (RouteTable.resolve picks the same ones, in that order of precedence). Used by `GET /v1/models` and by
// the 404 for an unknown model, so both name the same models the same way.
import type { Target } from './route-table.js';

/**
 * Each addressable name once, with the route model it reaches, in the targets' order; only the names whose
 * model `served` accepts. The names are taken from every target first, as the resolver picks among all of
 * them: filtering the targets first would name a route, or a bare id, by a model it does not reach.
 */
export function addressableNames(targets: Target[], served: (target: Target) => boolean = () => true): Array<{ name: string; target: Target }> {
  const seen = new Set<string>();
  const out: Array<{ name: string; target: Target }> = [];
  const push = (name: string, target: Target): void => {
    if (seen.has(name)) return;
    seen.add(name);
    out.push({ name, target });
  };
  for (const t of targets) {
    push(t.model.modelId, t);
    push(t.qualifiedName, t);
  }
  // After every model's names: a model id that is also a route's name reaches the model.
  for (const t of targets) push(t.route.name, t);
  return out.filter(({ target }) => served(target));
}
