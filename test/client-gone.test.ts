// A client that leaves before its non-streamed answer arrives. The call runs to completion (the provider
// bills it), so it is charged; regression test from an audit: its ledger row said 200, an answer nobody got.
import { expect, it } from 'vitest';
import { useUsageGateway } from './helpers/usage-gateway.js';

const gw = useUsageGateway((ledger) => `
storage: {ledger: "${ledger}"}
providers: {demo: {type: mock, output_tokens: 30}}
projects: {p: {daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a, project: p}]
`);

it('charges the call and records it as 499, with its usage and no reservation left open', async () => {
  const g = gw();
  const leaving = new AbortController();
  const call = fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-a', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], mock_latency_ms: 400 }),
    signal: leaving.signal,
  });
  setTimeout(() => leaving.abort(), 100);
  await expect(call).rejects.toThrow(/abort/i);
  let rows = await g.usage.ledger.rows({});
  for (let waited = 0; rows.length === 0 && waited < 3000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    await g.usage.writer.flush();
    rows = await g.usage.ledger.rows({});
  }
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ status: 499, decision: 'admitted', outputTokens: 30, usageSource: 'provider' });
  expect(await g.store.openReservations()).toBe(0);
});
