// A model of a family that bills prompt-cache writes (GPT-5.6 and later, prompt-cache.ts billsCacheWrites)
// that the built-in price table does not list yet, priced in `pricing` (as an operator does for a new
// model: `gpt-6.1-terra` here). The configured price has no write rate of its own, so the reservation took
// the plain input rate, while the settlement priced the writes OpenAI reported at the 1.25x a price without
// one falls back to (what OpenAI bills them at): 40 calls at once went past the money limit.
import { describe, expect, it } from 'vitest';
import { burst, expectWritesWithinLimit } from './helpers/money-burst.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

const LIMIT = 0.05;
const config = (ledgerUrl: string): string => `
storage: {ledger: "${ledgerUrl}"}
server: {timezone: UTC}
providers: {openai: {type: mock, latency_ms: 30, output_tokens: 10}}
pricing:
  "openai/gpt-6.1-terra": {input: 2, output: 12}
projects:
  chat: {daily_limit: {max_cost_usd: ${LIMIT}}}
  responses: {daily_limit: {max_cost_usd: ${LIMIT}}}
routes:
  r:
    chat_models: [{model_id: terra, model: openai/gpt-6.1-terra}]
keys:
  - {id: chat, key: tg-chat, project: chat}
  - {id: responses, key: tg-responses, project: responses}
`;

/**
 * A prompt over the 1,024 tokens OpenAI caches from (the mock writes all of it, as a first call does) whose
 * cheap bound is its exact count (numbers: about a token a character), so every call is reserved at its size.
 */
const PROMPT = Array.from({ length: 600 }, (_, i) => String((i * 7919) % 1000)).join(' ');

describe('a configured price for a cache-writing OpenAI model the list does not know, 40 calls at once', () => {
  const gw = useUsageGateway(config);

  it('chat completions: billed no more than the limit', async () => {
    const r = await burst(gw(), 'tg-chat', '/v1/chat/completions', { model: 'terra', messages: [{ role: 'user', content: PROMPT }], max_completion_tokens: 10 });
    expectWritesWithinLimit(r, LIMIT);
    expect(r.counter).toBeLessThanOrEqual(LIMIT + 1e-12);
  });

  it('Responses: the same', async () => {
    const r = await burst(gw(), 'tg-responses', '/v1/responses', { model: 'terra', input: PROMPT, max_output_tokens: 16 });
    expectWritesWithinLimit(r, LIMIT);
  });
});
