// Whether the process is on its way out (SIGTERM): shared by the signal handling, which sets it, and the
// HTTP server, which reads it on every request. A plain field, so the normal case costs one boolean check.

/** Set once a stop began: /healthz answers 503 and responses close their connections, so clients and load balancers go elsewhere. */
export class DrainState {
  draining = false;
}
