// QA fuzz review: `best_of` on /v1/completions multiplies what one call reserves (openai-exchange.ts
// choicesOf), as `n` does, but unlike `n` it is never checked (request-shape.ts validateBody checks `n` to be
// 1..128 for exactly that reason). OpenAI takes best_of from 0 to 20 (its API reference: "minimum 0,
// maximum 20"). A wrong best_of must be the client's 400 naming best_of, not a refusal that tells the
// client to lower a max_tokens it never sent, with a need of 1e308 tokens; and nothing goes upstream.
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const h = useBehindMock({ latencyMs: 0, outputTokens: 5 }, (u) => `
providers: {gpt: {type: openai, base_url: "${u}/v1", api_key: sk-up}}
projects: {p: {daily_limit: 10000}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: gpt/gpt-4o}]}}
keys: [{id: k, key: tg-k, project: p}]
`);

async function complete(body: Record<string, unknown>): Promise<{ status: number; error: { message: string; type: string; param: string | null; code: string | null } }> {
  const res = await fetch(`${h.gw().url}/v1/completions`, { method: 'POST', headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, error: ((await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } }).error };
}

describe('best_of on /v1/completions (QA fuzz)', () => {
  it('best_of: 1e308 is a 400 naming best_of, not a need of 1e308 tokens blamed on max_tokens', async () => {
    h.upstream().clearRequests();
    const { status, error } = await complete({ model: 'gpt-4o', prompt: 'hi', best_of: 1e308 });
    // Observed: 400 output_over_window "This request (1 input tokens even with max_tokens lowered to 1e+308)
    // needs 1e+308 tokens, more than the project 'p' daily limit allows ... lower max_tokens or shorten the input."
    expect(status).toBe(400);
    expect(error).toMatchObject({ type: 'invalid_request_error', param: 'best_of', code: 'invalid_request' });
    expect(error.message).toContain('best_of');
    expect(error.message).not.toContain('max_tokens');
    expect(h.upstream().requests()).toHaveLength(0);
  });

  it('best_of: 1000 (OpenAI takes at most 20) is a 400 naming best_of, not forwarded with max_tokens clamped to fit 1000 candidates', async () => {
    h.upstream().clearRequests();
    const { status, error } = await complete({ model: 'gpt-4o', prompt: 'hi', best_of: 1000 });
    // Observed: 200, the call forwarded upstream with best_of 1000 and max_tokens clamped to 6, so that 1000 candidates fit
    // in the window (OpenAI itself would refuse best_of above 20 after the gateway reserved the window).
    expect(status).toBe(400);
    expect(error).toMatchObject({ param: 'best_of', code: 'invalid_request' });
    expect(error.message).not.toMatch(/lower max_tokens/);
    expect(h.upstream().requests()).toHaveLength(0);
  });

  it('a best_of within OpenAI\'s range still goes through (control)', async () => {
    h.upstream().clearRequests();
    const res = await fetch(`${h.gw().url}/v1/completions`, { method: 'POST', headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', prompt: 'hi', best_of: 3, max_tokens: 5 }) });
    expect(res.status).toBe(200);
    expect(h.upstream().requests().filter((r) => r.path === '/v1/completions')).toHaveLength(1);
  });
});
