// Money limits (`max_cost_usd`) count what the provider bills. Regression test: they counted every token
// at the configured list price, so a call served at OpenAI's priority tier (1.75x for gpt-4.1) passed a
// dollar budget by up to 75%, prompt-cache writes (1.25x-2x the input price) were under-counted, and
// cache reads (a tenth of it) were counted ten times over, so a caching app hit its budget early.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { startCacheReplay, type CacheReplay } from './helpers/anthropic-cache-replay.js';
import { useUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

let replay: CacheReplay;
let replayUrl = '';
beforeAll(async () => {
  replay = await startCacheReplay();
  replayUrl = replay.url;
});
afterAll(() => replay.close());

// gpt-4.1 at $2 / $8 per million tokens (priority 1.75x by OpenAI's table); claude-sonnet-4-5 at $3 / $15.
// Project `big` has room for everything; project `tight` has $0.01 a day, so a call's reservation shows.
const config = (ledgerUrl: string): string => `
storage: {ledger: "${ledgerUrl}"}
server: {timezone: UTC}
providers:
  openai: {type: mock, output_tokens: 10}
  cachey: {type: anthropic, base_url: "${replayUrl}"}
pricing:
  "openai/gpt-4.1": {input: 2, output: 8}
  "cachey/claude-sonnet-4-5": {input: 3, output: 15}
  "openai/claude-sonnet-4-5": {input: 3, output: 15}
  "openai/gpt-long": {input: 2, output: 8, long_context: {above_input_tokens: 1000, input: 4, output: 16}}
projects:
  big: {daily_limit: {max_cost_usd: 100}}
  tight: {daily_limit: {max_cost_usd: 0.01}}
  context: {daily_limit: {max_cost_usd: 0.01}}
  context2: {daily_limit: {max_cost_usd: 0.01}}
  long: {daily_limit: {max_cost_usd: 1}}
routes:
  r:
    chat_models:
      - {model_id: gpt-4.1, model: openai/gpt-4.1}
      - {model_id: claude, model: cachey/claude-sonnet-4-5}
      - {model_id: sonnet, model: openai/claude-sonnet-4-5}
      - {model_id: gpt-long, model: openai/gpt-long}
keys:
  - {id: big, key: tg-big, project: big}
  - {id: tight, key: tg-tight, project: tight}
  - {id: tight2, key: tg-tight2, project: tight}
  - {id: context, key: tg-context, project: context}
  - {id: long, key: tg-long, project: long}
  - {id: context2, key: tg-context2, project: context2}
`;

describe('money limits count what the provider bills', () => {
  const gw = useUsageGateway(config);
  const openai = (key: string): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: 'Hello' }];

  /** The counter of `limit` in USD, and the rows' cost_usd summed, once the ledger has every row. */
  async function counterAndLedger(g: UsageTestGateway, limit: string): Promise<{ counter: number; costs: number; rows: LedgerRow[] }> {
    await g.usage.writer.flush();
    const report = await auditCounters(g.usage.ledger, g.gateway.policy, g.store, () => g.clock.now());
    const rows = (await g.usage.ledger.rows({})).filter((r) => r.limits.includes(limit));
    const line = report.lines.find((l) => l.limit === limit)!;
    // The ledger's rebuild figure (input and output cost per row) agrees with the counter.
    expect(line.drift).toBe(0);
    expect(line.ledger).toBeCloseTo(line.counter, 12);
    return { counter: line.counter, costs: rows.reduce((sum, r) => sum + r.costUsd, 0), rows };
  }

  it('settles each call at the tier that served it, streamed or not, on every OpenAI endpoint', async () => {
    const client = openai('tg-big');
    for (const tier of ['priority', 'flex', 'default'] as const) {
      await client.chat.completions.create({ model: 'gpt-4.1', messages, service_tier: tier });
      const stream = await client.chat.completions.create({ model: 'gpt-4.1', messages, service_tier: tier, stream: true, stream_options: { include_usage: true } });
      for await (const _chunk of stream) void _chunk;
      await client.responses.create({ model: 'gpt-4.1', input: 'Hello', service_tier: tier });
    }
    const { counter, costs, rows } = await counterAndLedger(gw(), 'project:big:daily');
    expect(rows).toHaveLength(9);
    // At list price the nine calls would count less than they cost: the priority ones cost 1.75x.
    const atList = rows.reduce((sum, r) => sum + (r.inputTokens * 2 + r.outputTokens * 8) / 1e6, 0);
    expect(costs).toBeGreaterThan(atList);
    expect(counter).toBeCloseTo(costs, 12);
  });

  it('reserves a priority call at the priority price: the clamp leaves it 1.75x fewer output tokens', async () => {
    const client = openai('tg-tight');
    const standard = await client.chat.completions.create({ model: 'gpt-4.1', messages, max_tokens: 2000 }).withResponse();
    const priority = await openai('tg-tight2').chat.completions.create({ model: 'gpt-4.1', messages, max_tokens: 2000, service_tier: 'priority' }).withResponse();
    const g = gw();
    await g.usage.writer.flush();
    const rows = await g.usage.ledger.rows({ requestIds: [standard.request_id!, priority.request_id!] });
    const standardRow = rows.find((r) => r.requestId === standard.request_id)!;
    const priorityRow = rows.find((r) => r.requestId === priority.request_id)!;
    // $0.01 = 10,000 µUSD. Standard: input at 2 and output at 8 µUSD per token; priority 1.75x both.
    const room = (used: number, input: number, factor: number): number => Math.floor((10_000 - used - input * 2 * factor) / (8 * factor) + 1e-9);
    expect(Number(standard.response.headers.get('x-tollgate-clamped-max-tokens'))).toBe(room(0, standardRow.reservedInput, 1));
    const usedByStandard = standardRow.costUsd * 1e6;
    expect(Number(priority.response.headers.get('x-tollgate-clamped-max-tokens'))).toBe(room(usedByStandard, priorityRow.reservedInput, 1.75));
    const { counter, costs } = await counterAndLedger(g, 'project:tight:daily');
    expect(counter).toBeCloseTo(costs, 12);
  });

  it('counts Anthropic cache reads at their price and cache writes at theirs, and reserves marked writes at the 1-hour price', async () => {
    const client = new Anthropic({ baseURL: gw().url, apiKey: 'tg-big', maxRetries: 0 });
    const stream = client.messages.stream({
      model: 'claude',
      max_tokens: 500,
      system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages,
    });
    const message = await stream.finalMessage();
    expect(message.usage).toMatchObject({ cache_read_input_tokens: 5000, cache_creation_input_tokens: 3000, output_tokens: 400 });
    const g = gw();
    const { counter, rows } = await counterAndLedger(g, 'project:big:daily');
    const row = rows.find((r) => r.modelId === 'claude')!;
    // 2,000 fresh at $3, 5,000 read at $0.30, 2,000 written at $3.75 and 1,000 at $6; 400 out at $15.
    expect(row.costUsd).toBeCloseTo((2000 * 3 + 5000 * 0.3 + 2000 * 3.75 + 1000 * 6 + 400 * 15) / 1e6, 12);
    const others = rows.filter((r) => r !== row).reduce((sum, r) => sum + r.costUsd, 0);
    expect(counter - others).toBeCloseTo(row.costUsd, 12);
  });

  it('reserves a request marking a 1-hour cache write at twice the input price', async () => {
    const client = new Anthropic({ baseURL: gw().url, apiKey: 'tg-tight', maxRetries: 0 });
    const before = await counterAndLedger(gw(), 'project:tight:daily');
    const { response } = await client.messages
      .create({ model: 'claude', max_tokens: 2000, system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral', ttl: '1h' } }], messages, stream: true })
      .withResponse();
    const requestId = response.headers.get('request-id')!;
    const g = gw();
    await g.usage.writer.flush();
    const [row] = await g.usage.ledger.rows({ requestIds: [requestId] });
    // Input at $3 x 2 (the 1-hour write price), output at $15 per million tokens.
    const room = Math.floor((10_000 - before.counter * 1e6 - row.reservedInput * 3 * 2) / 15 + 1e-9);
    expect(row.reservedOutput).toBe(room);
    expect(Number(response.headers.get('x-tollgate-clamped-max-tokens'))).toBe(room);
  });

  it('sizes the allowance for unseen stored context at the priority price, so a priority follow-up still fits', async () => {
    // $0.01 with 100 output tokens at 8 x 1.75 µUSD leaves room for (10,000 - 1,400) / 3.5 = 2,457 input
    // tokens. At the list price the allowance would be 4,600 tokens, which the priority reservation
    // could never hold: a permanent 400 for every priority follow-up under this limit.
    const { data, response } = await openai('tg-context')
      .responses.create({ model: 'gpt-4.1', input: 'And then?', previous_response_id: 'resp_from_another_instance', max_output_tokens: 100, service_tier: 'priority' })
      .withResponse();
    expect(data.status).toBe('completed');
    const g = gw();
    await g.usage.writer.flush();
    const [row] = await g.usage.ledger.rows({ requestIds: [response.headers.get('x-request-id')!] });
    expect(row.reservedInput).toBe(2457);
    expect(row.reservedOutput).toBe(100);
  });

  // Sonnet 4.5 bills a call whose input passes 200K tokens at $6 / $22.50 for all of it (the list's band,
  // kept in proportion for the configured $3 / $15). The mock upstream reports the prompt's exact count.
  const prompt = (words: number): Anthropic.MessageParam[] => [{ role: 'user', content: 'hello '.repeat(words) }];

  it('reserves a call past the long-context line at the band price: it can never fit where a shorter one does', async () => {
    const client = new Anthropic({ baseURL: gw().url, apiKey: 'tg-long', maxRetries: 0 });
    // ~224K tokens: $0.67 at the standard price, $1.34 at the band's, against $1 a day: it can never fit.
    const refused = await client.messages.create({ model: 'sonnet', max_tokens: 100, messages: prompt(160_000) }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as Error).message).toMatch(/input alone \(\$1\.3\d{3}\) is more than the project 'long' daily limit allows/);
    // ~196K tokens stay under the line: $0.59 fits.
    const served = await client.messages.create({ model: 'sonnet', max_tokens: 100, messages: prompt(140_000) });
    expect(served.usage.input_tokens).toBeLessThanOrEqual(200_000);
    expect(served.usage.input_tokens).toBeGreaterThan(150_000);
  });

  it('settles a call past the long-context line at the band price, the counter agreeing with the ledger', async () => {
    const client = new Anthropic({ baseURL: gw().url, apiKey: 'tg-big', maxRetries: 0 });
    const { data, response } = await client.messages.create({ model: 'sonnet', max_tokens: 100, messages: prompt(160_000) }).withResponse();
    expect(data.usage.input_tokens).toBeGreaterThan(200_000);
    const g = gw();
    const { counter, rows } = await counterAndLedger(g, 'project:big:daily');
    const row = rows.find((r) => r.requestId === response.headers.get('request-id'))!;
    expect(row.costUsd).toBeCloseTo((data.usage.input_tokens * 6 + data.usage.output_tokens * 22.5) / 1e6, 12);
    const others = rows.filter((r) => r !== row).reduce((sum, r) => sum + r.costUsd, 0);
    expect(counter - others).toBeCloseTo(row.costUsd, 12);
  });

  it('sizes the allowance for unseen stored context at the band its size reaches, so a follow-up still fits', async () => {
    // $0.01 with 100 output tokens: 4,600 input tokens fit at $2 / $8, but past the configured line of
    // 1,000 every token costs $4 / $16, which leaves (10,000 - 1,600) / 4 = 2,100. An allowance of 4,600
    // would be reserved at the band's price and could never fit: a permanent 400.
    const { data, response } = await openai('tg-context2')
      .responses.create({ model: 'gpt-long', input: 'And then?', previous_response_id: 'resp_from_another_instance', max_output_tokens: 100 })
      .withResponse();
    expect(data.status).toBe('completed');
    const g = gw();
    await g.usage.writer.flush();
    const [row] = await g.usage.ledger.rows({ requestIds: [response.headers.get('x-request-id')!] });
    expect(row.reservedInput).toBe(2100);
  });
});
