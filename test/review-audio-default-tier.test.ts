// Review of `providers.<name>.default_service_tier: priority` (381379c): a call that names no tier is
// reserved at the priority price, as its OpenAI project bills it. When the provider's usage never came (a
// server that reports none, a stream whose usage chunk is missing), the gateway counted the call itself and
// priced it at the standard tier: the ledger and the money limit's counter were 1.75x under on gpt-4.1
// ($2 / $8 standard, $3.50 / $14 priority), the tier that the call was reserved at and billed at.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

const config = (ledgerUrl: string): string => `
storage: {ledger: "${ledgerUrl}"}
server: {timezone: UTC}
providers:
  fast: {type: mock, output_tokens: 200, default_service_tier: priority}
pricing:
  "fast/gpt-4.1": {input: 2, output: 8}
projects:
  p: {daily_limit: {max_cost_usd: 100}}
routes:
  r: {chat_models: [{model_id: gpt-4.1, model: fast/gpt-4.1}]}
keys:
  - {id: k, key: tg-k, project: p}
`;

describe('a call served at priority by its project default, without the provider usage', () => {
  const gw = useUsageGateway(config);
  const client = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
  const messages = [{ role: 'user', content: 'Hello' }];

  it('is priced at priority, streamed or not, and the money limit counts what the ledger says', async () => {
    const plain = await client().chat.completions.create({ model: 'gpt-4.1', messages, max_tokens: 100, mock_omit_usage: true } as never).withResponse();
    expect((plain.data as OpenAI.ChatCompletion).service_tier).toBe('priority');
    const nulled = await client().chat.completions.create({ model: 'gpt-4.1', messages, max_tokens: 100, service_tier: null, mock_omit_usage: true } as never).withResponse();
    const streamed = await client().chat.completions.create({ model: 'gpt-4.1', messages, max_tokens: 100, stream: true, service_tier: 'auto', mock_omit_usage: true } as never).withResponse();
    for await (const _ of streamed.data as unknown as AsyncIterable<unknown>) void _;
    // The Responses API, its answer without usage.
    const responses = await client().responses.create({ model: 'gpt-4.1', input: 'Hello', max_output_tokens: 100, mock_omit_usage: true } as never).withResponse();
    expect((responses.data as OpenAI.Responses.Response).service_tier).toBe('priority');
    const g = gw();
    await g.usage.writer.flush();
    const rows = await g.usage.ledger.rows({ requestIds: [plain.request_id!, nulled.request_id!, streamed.request_id!, responses.request_id!] });
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.usageSource).toBe('estimated');
      expect(row.serviceTier, `stream=${row.stream}`).toBe('priority');
      // gpt-4.1 at priority: $3.50 input and $14 output a million (standard: $2 and $8).
      expect(row.costUsd, `stream=${row.stream}`).toBeCloseTo((row.inputTokens * 3.5 + row.outputTokens * 14) / 1e6, 12);
    }
    const line = (await auditCounters(g.usage.ledger, g.gateway.policy, g.store, () => g.clock.now())).lines.find((l) => l.limit === 'project:p:daily')!;
    expect(line.drift).toBe(0);
    expect(line.counter).toBeCloseTo(rows.reduce((sum, r) => sum + r.costUsd, 0), 12);
  });

  it('a call pinned to the standard tier stays at standard', async () => {
    const pinned = await client().chat.completions.create({ model: 'gpt-4.1', messages, max_tokens: 100, service_tier: 'default', mock_omit_usage: true } as never).withResponse();
    const g = gw();
    await g.usage.writer.flush();
    const [row] = await g.usage.ledger.rows({ requestIds: [pinned.request_id!] });
    expect(row!.serviceTier).toBeNull();
    expect(row!.costUsd).toBeCloseTo((row!.inputTokens * 2 + row!.outputTokens * 8) / 1e6, 12);
  });
});
