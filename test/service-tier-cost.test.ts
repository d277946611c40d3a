// What a call costs at the OpenAI service tier that served it. Regression test from an audit: a client
// could ask for `service_tier: "priority"` (about twice the price) and the ledger (so the dashboard, the
// reports and /metrics) counted it at the standard price.
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PriceBook } from '../src/ledger/price-book.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { usageOfRow } from './helpers/usage-of-row.js';
import { startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

let place: LedgerPlace;
let gw: UsageTestGateway;

beforeAll(async () => {
  place = sqlitePlace();
  gw = await startUsageGateway(`
storage: {ledger: "${place.url}"}
providers: {openai: {type: mock, output_tokens: 10}}
routes: {r: {chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1}]}}
keys: [{id: a, key: tg-a}]
`);
});
afterAll(async () => {
  await gw?.close();
  await place?.drop();
});

it('prices each call at the tier the provider reports: priority, flex or standard, streamed or not', async () => {
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'tg-a', maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: 'Hello' }];
  const ids: Array<[string, 'priority' | 'flex' | 'default']> = [];
  for (const tier of ['priority', 'flex', 'default'] as const) {
    const plain = await client.chat.completions.create({ model: 'gpt-4.1', messages, service_tier: tier }).withResponse();
    ids.push([plain.request_id!, tier]);
    const streamed = await client.chat.completions.create({ model: 'gpt-4.1', messages, service_tier: tier, stream: true, stream_options: { include_usage: true } }).withResponse();
    for await (const _chunk of streamed.data) void _chunk;
    ids.push([streamed.request_id!, tier]);
    const response = await client.responses.create({ model: 'gpt-4.1', input: 'Hello', service_tier: tier }).withResponse();
    ids.push([response.request_id!, tier]);
  }
  await gw.usage.writer.flush();
  const rows = await gw.usage.ledger.rows({ requestIds: ids.map(([id]) => id) });
  expect(rows).toHaveLength(ids.length);
  // gpt-4.1, USD per million: standard 2 / 8, priority 3.50 / 14, flex half of standard.
  const price = { priority: [3.5, 14], flex: [1, 4], default: [2, 8] };
  const prices = new PriceBook(new Map());
  for (const [id, tier] of ids) {
    const row = rows.find((r) => r.requestId === id)!;
    const [input, output] = price[tier];
    expect(row.costUsd, `${tier} ${row.endpoint} stream=${row.stream}`).toBeCloseTo((row.inputTokens * input + row.outputTokens * output) / 1e6, 12);
    // The input part, at the tier's price too: money limits are rebuilt from it.
    expect(row.inputCostUsd, `${tier} ${row.endpoint} stream=${row.stream}`).toBeCloseTo((row.inputTokens * input) / 1e6, 12);
    // The tier is recorded (standard as null), so the row's columns alone price it again (a FinOps audit:
    // a priority call looked like a standard one).
    expect(row.serviceTier, `${tier} ${row.endpoint} stream=${row.stream}`).toBe(tier === 'default' ? null : tier);
    expect(prices.cost(row.provider, row.model, usageOfRow(row))).toBe(row.costUsd);
  }
});
