// 500 requests released at once against a hard limit that fits 100 of them: never a token over.
import { describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { estimateInput } from '../src/tokens/index.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const MAX_TOKENS = 40;
const messages = [{ role: 'user', content: 'Count to three.' }];
const INPUT = estimateInput('chat', { model: 'gpt-4o', messages }, 'gpt-4o').exact();
const PER_REQUEST = INPUT + MAX_TOKENS;
const LIMIT = 100 * PER_REQUEST;

const { gw } = useBehindMock({ latencyMs: 5, outputTokens: MAX_TOKENS }, (url) => `
providers: {up: {type: openai, base_url: "${url}/v1"}}
projects:
  p1: {daily_limit: ${LIMIT}}
  p2: {daily_limit: ${LIMIT}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]
keys:
  - {id: k1, key: tg-k1, project: p1}
  - {id: k2, key: tg-k2, project: p2}
enforcement: {clamp_max_tokens: false}
`);

async function burst(key: string, n: number, outputFor: (i: number) => number): Promise<number[]> {
  const pool = new Pool(gw().url, { connections: n });
  try {
    return await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await pool.request({
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ model: 'gpt-4o', messages, max_tokens: MAX_TOKENS, mock_output_tokens: outputFor(i) }),
        });
        await res.body.dump();
        return res.statusCode;
      }),
    );
  } finally {
    await pool.close();
  }
}

function settledFor(project: string): { input: number; output: number; admitted: number } {
  const calls = gw().calls.filter((c) => c.principal.project === project && c.decision === 'admitted');
  return {
    input: calls.reduce((s, c) => s + c.usage.input, 0),
    output: calls.reduce((s, c) => s + c.usage.output, 0),
    admitted: calls.length,
  };
}

async function projectUsed(key: string): Promise<number> {
  const call = gw().calls.find((c) => c.principal.keyId === key)!;
  const limits = gw().gateway.engine.applicable.for(call.principal, call.target);
  const [state] = await gw().store.peek(limits.filter((l) => l.id.startsWith('project:')).map((l) => l.item));
  return state.used;
}

describe('500 concurrent requests against a limit that fits 100', () => {
  it('admits exactly 100 when every call uses its whole allowance: overshoot 0', async () => {
    const statuses = await burst('tg-k1', 500, () => MAX_TOKENS);
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(statuses.filter((s) => s === 429)).toHaveLength(400);
    const settled = settledFor('p1');
    expect(settled.input + settled.output).toBe(LIMIT);
    expect(await projectUsed('k1')).toBe(LIMIT);
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('with random actual usage, counters equal the sum of settled usage and no reservation stays open', async () => {
    const statuses = await burst('tg-k2', 500, (i) => (i * 7919) % (MAX_TOKENS + 1));
    const settled = settledFor('p2');
    expect(statuses.filter((s) => s === 200).length).toBe(settled.admitted);
    expect(settled.admitted).toBeGreaterThanOrEqual(100);
    expect(settled.input + settled.output).toBeLessThanOrEqual(LIMIT);
    expect(await projectUsed('k2')).toBe(settled.input + settled.output);
    expect(await gw().store.openReservations()).toBe(0);
  });
});
