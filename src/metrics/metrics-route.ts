// `GET /metrics` in Prometheus text format.
import type { FastifyInstance } from 'fastify';
import type { GatewayMetrics } from './gateway-metrics.js';

/** Registers `GET /metrics`. */
export function metricsRoute(metrics: GatewayMetrics): (app: FastifyInstance) => void {
  return (app) => {
    app.get('/metrics', async (_req, reply) => {
      const { contentType, body } = await metrics.render();
      return reply.type(contentType).send(body);
    });
  };
}
