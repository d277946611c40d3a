// An OpenAI project can serve every call that names no tier at priority (its "default service tier"
// setting), billed above standard (gpt-4.1: $3.50 / $14 against $2 / $8). Regression test from a QA pass:
// such calls were reserved at the standard price and settled at priority, so every call in flight at once
// passed a money limit by its difference (40 concurrent calls ended at $0.175 on a $0.10 limit).
// `providers.<name>.default_service_tier: priority` says so; the in-process mock serves such calls at
// priority as that project would.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import { estimateInput } from '../src/tokens/index.js';
import { useUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

// An embedding's input tokens; its project's money limit has room for twice them at the standard price,
// not for the 2.5x a priority reservation of a model without a priority price would take.
const EMBED_INPUT = 'The quick brown fox jumps over the lazy dog.';
const EMBED_TOKENS = estimateInput('embeddings', { model: 'text-embedding-3-small', input: EMBED_INPUT }, 'text-embedding-3-small').exact();

const config = (ledgerUrl: string): string => `
storage: {ledger: "${ledgerUrl}"}
server: {timezone: UTC}
providers:
  openai: {type: mock, output_tokens: 200, latency_ms: 150, default_service_tier: priority}
pricing:
  "openai/gpt-4.1": {input: 2, output: 8}
  "openai/text-embedding-3-small": {input: 1, output: 0}
projects:
  burst: {daily_limit: {max_cost_usd: 0.01}}
  pinned: {daily_limit: {max_cost_usd: 0.01}}
  embed: {daily_limit: {max_cost_usd: ${(2 * EMBED_TOKENS) / 1e6}}}
routes:
  r:
    chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1}]
    embedding_models: [{model_id: text-embedding-3-small, model: openai/text-embedding-3-small}]
keys:
  - {id: burst, key: tg-burst, project: burst}
  - {id: pinned, key: tg-pinned, project: pinned}
  - {id: embed, key: tg-embed, project: embed}
`;

describe('a provider whose calls default to the priority tier', () => {
  const gw = useUsageGateway(config);
  const openai = (key: string): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: 'Hello' }];

  async function counterAndCosts(g: UsageTestGateway, project: string): Promise<{ counter: number; costs: number }> {
    await g.usage.writer.flush();
    const line = (await auditCounters(g.usage.ledger, g.gateway.policy, g.store, () => g.clock.now())).lines.find((l) => l.limit === `project:${project}:daily`)!;
    expect(line.drift).toBe(0);
    const rows = (await g.usage.ledger.rows({})).filter((r) => r.project === project);
    return { counter: line.counter, costs: rows.reduce((sum, r) => sum + r.costUsd, 0) };
  }

  it('reserves calls that name no tier (or auto) at the priority price: a burst stays within the money limit', async () => {
    const client = openai('tg-burst');
    const calls = Array.from({ length: 12 }, (_, i) =>
      client.chat.completions.create({ model: 'gpt-4.1', messages, max_tokens: 200, ...(i % 2 ? { service_tier: 'auto' as const } : {}) }).then(
        (c) => c.service_tier,
        (err: unknown) => (err instanceof OpenAI.RateLimitError ? 429 : Promise.reject(err)),
      ),
    );
    const outcomes = await Promise.all(calls);
    // Served at priority, as the project's default: 200 output tokens at $14 a million are $0.0028 a call.
    expect(outcomes.filter((o) => o === 'priority').length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o === 429).length).toBeGreaterThan(0);
    const { counter, costs } = await counterAndCosts(gw(), 'burst');
    // Reserved at standard ($8 output), the calls that fitted at once were billed $0.0175 on the $0.01 limit.
    expect(costs).toBeLessThanOrEqual(0.01 + 1e-12);
    expect(counter).toBeCloseTo(costs, 12);
  });

  it('reserves a call pinned to the standard tier at the standard price', async () => {
    const res = await openai('tg-pinned').chat.completions.create({ model: 'gpt-4.1', messages, max_tokens: 2000, service_tier: 'default' }).withResponse();
    expect(res.data.service_tier).toBe('default');
    const g = gw();
    await g.usage.writer.flush();
    const [row] = await g.usage.ledger.rows({ requestIds: [res.request_id!] });
    // $0.01 = 10,000 µUSD at $2 input and $8 output per million: the clamp of a standard reservation.
    expect(Number(res.response.headers.get('x-tollgate-clamped-max-tokens'))).toBe(Math.floor((10_000 - row!.reservedInput * 2) / 8 + 1e-9));
    expect(row!.serviceTier).toBeNull();
  });

  it('leaves embeddings at the standard price: OpenAI serves them at no tier', async () => {
    const res = await openai('tg-embed').embeddings.create({ model: 'text-embedding-3-small', input: EMBED_INPUT });
    expect(res.data).toHaveLength(1);
    const g = gw();
    await g.usage.writer.flush();
    const [row] = (await g.usage.ledger.rows({})).filter((r) => r.project === 'embed');
    expect(row).toMatchObject({ status: 200, serviceTier: null, inputTokens: EMBED_TOKENS });
  });
});
