// The OpenAI-format endpoints' entry point (chat, completions, embeddings, responses); the pipeline is shared.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Endpoint } from '../tokens/index.js';
import type { Gateway } from './gateway.js';
import { handleCall } from './pipeline.js';

export { authenticate } from './request-context.js';

/** Handles one OpenAI-format call end to end. */
export function handleOpenAI(gw: Gateway, endpoint: Endpoint, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  return handleCall(gw, endpoint, req, reply);
}
