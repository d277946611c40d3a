// A model of a family that bills prompt-cache writes (GPT-5.6 and later, prompt-cache.ts billsCacheWrites)
// that the built-in price table does not list yet, priced in `pricing` (as an operator does for a new
// model: `gpt-6.1-terra` here). The configured price has no write rate of its own, so the reservation took
// the plain input rate, while the settlement priced the writes OpenAI reported at the 1.25x a price without
// one falls back to (what OpenAI bills them at): 40 calls at once went past the money limit.
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
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

  async function burst(key: string, path: string, body: Record<string, unknown>): Promise<{ ok: number; counter: number; ledger: number; writes: number }> {
    const g = gw();
    const pool = new Pool(g.url, { connections: 40 });
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
        await res.body.dump();
        return res.statusCode;
      }),
    );
    await pool.close();
    await g.usage.writer.flush();
    const limit = `project:${key.slice(3)}:daily`;
    const report = await auditCounters(g.usage.ledger, g.gateway.policy, g.store, () => g.clock.now());
    const line = report.lines.find((l) => l.limit === limit)!;
    const rows = (await g.usage.ledger.rows({})).filter((r) => r.limits.includes(limit) && r.status === 200);
    return { ok: statuses.filter((s) => s === 200).length, counter: line.counter, ledger: rows.reduce((sum, r) => sum + r.costUsd, 0), writes: rows.reduce((sum, r) => sum + r.cacheWriteInputTokens, 0) };
  }

  it('chat completions: billed no more than the limit', async () => {
    const r = await burst('tg-chat', '/v1/chat/completions', { model: 'terra', messages: [{ role: 'user', content: PROMPT }], max_completion_tokens: 10 });
    expect(r.ok).toBeGreaterThan(0);
    expect(r.writes).toBeGreaterThan(1024 * r.ok);
    expect(r.ledger).toBeLessThanOrEqual(LIMIT + 1e-12);
    expect(r.counter).toBeLessThanOrEqual(LIMIT + 1e-12);
    expect(r.counter).toBeCloseTo(r.ledger, 12);
  });

  it('Responses: the same', async () => {
    const r = await burst('tg-responses', '/v1/responses', { model: 'terra', input: PROMPT, max_output_tokens: 16 });
    expect(r.ok).toBeGreaterThan(0);
    expect(r.writes).toBeGreaterThan(1024 * r.ok);
    expect(r.ledger).toBeLessThanOrEqual(LIMIT + 1e-12);
    expect(r.counter).toBeCloseTo(r.ledger, 12);
  });
});
