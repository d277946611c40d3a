// `GET /metrics` in Prometheus text format.
import type { FastifyInstance } from 'fastify';
import { bearerMatches } from '../admin/admin-auth.js';
import { TollgateError } from '../errors/tollgate-error.js';
import type { GatewayMetrics } from './gateway-metrics.js';

/** Registers `GET /metrics`, open or behind `metrics.bearer_token` (read at start, as every `metrics.*` setting). */
export function metricsRoute(metrics: GatewayMetrics, bearerTokenSha256?: string): (app: FastifyInstance) => void {
  return (app) => {
    app.get('/metrics', async (req, reply) => {
      if (bearerTokenSha256 !== undefined && !bearerMatches(bearerTokenSha256, req)) throw new TollgateError('metrics_token_required');
      const { contentType, body } = await metrics.render();
      return reply.type(contentType).send(body);
    });
  };
}
