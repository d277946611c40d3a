// Anthropic bills prompt-cache writes at 1.25x the input price (2x with a 1-hour TTL), so a request that marks
// a cache breakpoint is reserved at that price against money limits. Whether it marks one was read from the
// body's JSON text, looking for the key `"cache_control"` (and `"ttl":"1h"`). JSON lets a client write any
// character of a key or value as an escape: `"cache\u005fcontrol"` is the same key to every JSON parser,
// Anthropic's included, but not to that search. Such calls were reserved at the list input price and billed
// at the write price: 40 calls at once, each writing ~97 tokens with the 1-hour TTL, counted $0.0160 on a
// $0.01 limit (and $0.0137 with only the TTL escaped, reserved at the 5-minute price). The hint is now read
// from the parsed body whenever the text holds an escape (the search alone decides for bodies without any).
import { describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { estimateInput } from '../src/tokens/index.js';
import { useTestGateway } from './helpers/use-test-gateway.js';

const gw = useTestGateway(`
server: {timezone: UTC}
providers: {demo: {type: mock, latency_ms: 20, output_tokens: 10}}
pricing:
  "demo/claude-sonnet-4-5": {input: 3, output: 15}
projects:
  p1: {daily_limit: {max_cost_usd: 0.01}}
  p2: {daily_limit: {max_cost_usd: 0.01}}
  p3: {daily_limit: {max_cost_usd: 0.01}}
routes:
  r:
    chat_models: [{model_id: claude-sonnet-4-5, model: demo/claude-sonnet-4-5}]
keys:
  - {id: k1, key: tg-k1, project: p1}
  - {id: k2, key: tg-k2, project: p2}
  - {id: k3, key: tg-k3, project: p3}
`);

/** A system prompt small enough to be counted exactly at once, nearly all of it written to the cache (1-hour TTL). */
const SYSTEM = 'Answer as a careful accountant would. '.repeat(8);
const WRITTEN = estimateInput('messages', { model: 'claude-sonnet-4-5', system: [{ type: 'text', text: SYSTEM }], messages: [{ role: 'user', content: 'Total?' }] }, 'claude-sonnet-4-5').exact() - 10;

/** The request's JSON text, its cache_control key written as `key` and its ttl value as `ttl`. */
function bodyText(key: string, ttl: string): string {
  return `{"model":"claude-sonnet-4-5","max_tokens":10,"system":[{"type":"text","text":${JSON.stringify(SYSTEM)},"${key}":{"type":"ephemeral","ttl":"${ttl}"}}],"messages":[{"role":"user","content":"Total?"}],"mock_cache_write_1h_tokens":${WRITTEN}}`;
}

/** 40 calls at once with key `apiKey`; the project's counter in µUSD and its max. */
async function burst(apiKey: string, text: string): Promise<{ used: number; max: number; ok: number }> {
  const pool = new Pool(gw().url, { connections: 40 });
  const statuses = await Promise.all(
    Array.from({ length: 40 }, async () => {
      const res = await pool.request({ method: 'POST', path: '/v1/messages', headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'anthropic-version': '2023-06-01' }, body: text });
      await res.body.dump();
      return res.statusCode;
    }),
  );
  await pool.close();
  const call = gw().calls.find((c) => c.principal.keyId === apiKey.slice(3))!;
  const limits = gw().gateway.engine.applicable.for(call.principal, call.target);
  const [state] = await gw().store.peek(limits.filter((l) => l.id.startsWith('project:')).map((l) => l.item));
  return { used: state.used, max: state.max, ok: statuses.filter((s) => s === 200).length };
}

describe('a cache breakpoint written with JSON escapes', () => {
  it('as plain text: reserved at the 1-hour write price, the limit holds', async () => {
    const { used, max, ok } = await burst('tg-k1', bodyText('cache_control', '1h'));
    expect(ok).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(max);
  });

  it('with its key escaped (cache\\u005fcontrol): reserved at the write price too, the limit holds', async () => {
    const { used, max, ok } = await burst('tg-k2', bodyText('cache\\u005fcontrol', '1h'));
    expect(ok).toBeGreaterThan(0);
    // Was 16,002 µUSD on a limit of 10,000: each call reserved at $3 per million input, billed $6 for its writes.
    expect(used).toBeLessThanOrEqual(max);
  });

  it('with its TTL escaped ("1\\u0068"): reserved at the 1-hour price, not the 5-minute one', async () => {
    const { used, max, ok } = await burst('tg-k3', bodyText('cache_control', '1\\u0068'));
    expect(ok).toBeGreaterThan(0);
    // Was 13,716 µUSD: reserved at 1.25x the input price, billed 2x.
    expect(used).toBeLessThanOrEqual(max);
  });
});
