// The names a client can put in `model` for a list of route models: `route/model_id` always, and the bare
// `model_id` for the first route model that has it (RouteTable.resolve picks that one too). Used by
// `GET /v1/models` and by the 404 for an unknown model, so both name the same models the same way.
import type { Target } from './route-table.js';

/** Each addressable name once, with the route model it reaches, in the targets' order. */
export function addressableNames(targets: Target[]): Array<{ name: string; target: Target }> {
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
  return out;
}
