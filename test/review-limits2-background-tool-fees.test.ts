// A background Responses call goes on at the provider, searches included; until its end is known it is
// charged its whole grant, and that stands when the end is never learnt (the response is gone from the
// provider, the follow's deadline, a stop). The grant held the input and output alone: the fees of the web
// searches its reservation held were given back, so a money limit let such calls on while the provider
// billed their searches (here 5 per call, $0.05, charged $0).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { PriceBook } from '../src/ledger/price-book.js';
import { until } from './helpers/until.js';
import { responseObject } from './helpers/wire-upstream.js';
import { withBehindWireUpstream } from './helpers/behind-wire-upstream.js';

const SEARCHES = 5;
/** USD per web search (list-prices.ts TOOL_CALL_PRICES: $10 per 1,000). */
const SEARCH_FEE = 0.01;

/** Queues every background call, then says it is gone when the gateway asks how it ended. */
function queuedThenGone(req: IncomingMessage, res: ServerResponse, raw: string): void {
  if (req.method === 'POST') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(responseObject('resp_gone1', JSON.parse(raw) as Record<string, unknown>, 'queued', null)));
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message: 'No response found', type: 'invalid_request_error' } }));
}

describe('a background web-search call whose end is never learnt', () => {
  it('is charged the searches it may have made, as reserved', async () => {
    await withBehindWireUpstream(queuedThenGone, (url) => `
providers:
  up: {type: openai, base_url: "${url}", api_key: k}
pricing:
  "up/gpt-4.1-mini": {input: 0.4, output: 1.6}
enforcement: {stored_context_tokens: 1000}
projects: {p: {daily_limit: {max_cost_usd: 1}}}
routes:
  r:
    chat_models: [{model_id: mini, model: up/gpt-4.1-mini}]
keys: [{id: a, key: tg-a, project: p}]
`, async (gateway) => {
      const res = await fetch(`${gateway.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a' },
        body: JSON.stringify({ model: 'mini', input: 'What changed in the tax rules this week?', tools: [{ type: 'web_search' }], max_tool_calls: SEARCHES, max_output_tokens: 100, background: true }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      await until(() => gateway.calls.length > 0, 10_000);
      expect(await gateway.store.openReservations()).toBe(0);
      const row = gateway.calls[0]!;
      expect(row.usage.output).toBe(100);
      const prices = new PriceBook(gateway.gateway.policy.pricing);
      expect(prices.cost('up', 'gpt-4.1-mini', row.usage)).toBeGreaterThanOrEqual(SEARCHES * SEARCH_FEE);
    });
  });
});
