// Model addressing: `<model_id>` within the key's routes, `<route>/<model_id>`, or `<route>` alone.
import type { Policy, RouteModel, RoutePolicy } from '../config/policy.js';
import type { Principal } from '../auth/principal.js';

export type ModelKind = RouteModel['kind'];

/** A resolved model: the route it belongs to and the model entry that serves it. */
export interface Target {
  route: RoutePolicy;
  model: RouteModel;
  /** The name to show clients and reports: `<route>/<model_id>`. */
  qualifiedName: string;
}

export class RouteTable {
  private readonly routes: RoutePolicy[];

  constructor(policy: Policy) {
    this.routes = [...policy.routes.values()];
  }

  /** Routes this principal may use, in config order. */
  routesFor(principal: Principal): RoutePolicy[] {
    const allowed = principal.routes;
    return allowed ? this.routes.filter((r) => allowed.includes(r.name)) : this.routes;
  }

  /** Resolves a requested model name for a principal and endpoint kind, or undefined. */
  resolve(principal: Principal, requested: string, kind: ModelKind): Target | undefined {
    const routes = this.routesFor(principal);
    const slash = requested.indexOf('/');
    if (slash > 0) {
      const route = routes.find((r) => r.name === requested.slice(0, slash));
      const modelId = requested.slice(slash + 1);
      const model = route?.models.find((m) => m.modelId === modelId && m.kind === kind);
      if (route && model) return target(route, model);
    }
    for (const route of routes) {
      const model = route.models.find((m) => m.modelId === requested && m.kind === kind);
      if (model) return target(route, model);
    }
    // A route name alone is a virtual model: its first model of this kind serves.
    const route = routes.find((r) => r.name === requested);
    const first = route?.models.find((m) => m.kind === kind);
    return route && first ? target(route, first) : undefined;
  }

  /** Every model id this principal can address, qualified by route, for `GET /v1/models` and error messages. */
  modelsFor(principal: Principal): Target[] {
    return this.routesFor(principal).flatMap((route) => route.models.map((model) => target(route, model)));
  }
}

function target(route: RoutePolicy, model: RouteModel): Target {
  return { route, model, qualifiedName: `${route.name}/${model.modelId}` };
}
