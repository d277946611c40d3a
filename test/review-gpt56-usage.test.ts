// GPT-5.6 reports the prompt tokens it wrote to the cache in `prompt_tokens_details.cache_write_tokens`
// (chat) and `input_tokens_details.cache_write_tokens` (Responses), and bills them at 1.25x input. The
// gateway read only `cached_tokens`: it recorded no cache writes for OpenAI and settled them at the plain
// input rate, a quarter of their input under what OpenAI bills, in the ledger and in money limits. The mock
// upstream reported no writes either, so nothing could show it.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import { OpenAIChatStream } from '../src/providers/openai/chat-stream.js';
import { openAIUsage } from '../src/providers/openai/openai-usage.js';
import { ResponsesStream } from '../src/providers/openai/responses-stream.js';
import { handleMockRequest } from '../src/providers/mock/index.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

describe('reading OpenAI cache writes', () => {
  it('from a chat and a Responses usage object, as a subset of input', () => {
    const chat = { prompt_tokens: 9657, completion_tokens: 78, total_tokens: 9735, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 9654, audio_tokens: 0 } };
    expect(openAIUsage(chat)).toMatchObject({ input: 9657, cachedInput: 0, cacheWriteInput: 9654, output: 78 });
    const responses = { input_tokens: 18014, input_tokens_details: { cache_write_tokens: 18011, cached_tokens: 0 }, output_tokens: 42, output_tokens_details: { reasoning_tokens: 25 }, total_tokens: 18056 };
    expect(openAIUsage(responses)).toMatchObject({ input: 18014, cachedInput: 0, cacheWriteInput: 18011, output: 42 });
  });

  it('adds no field when none were written (older models report 0 or nothing)', () => {
    expect(openAIUsage({ input_tokens: 10, input_tokens_details: { cache_write_tokens: 0, cached_tokens: 0 }, output_tokens: 1 })).not.toHaveProperty('cacheWriteInput');
    expect(openAIUsage({ prompt_tokens: 10, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 0 } })).not.toHaveProperty('cacheWriteInput');
  });

  it('from the usage chunk of a chat stream', () => {
    const stream = new OpenAIChatStream(true);
    const usage = { prompt_tokens: 2600, completion_tokens: 5, total_tokens: 2605, prompt_tokens_details: { cached_tokens: 2000, cache_write_tokens: 400 } };
    stream.step({ data: JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-5.6-sol', choices: [], usage }) });
    expect(stream.usage).toMatchObject({ input: 2600, cachedInput: 2000, cacheWriteInput: 400, output: 5, final: true });
  });

  it('from the closing event of a Responses stream', () => {
    const stream = new ResponsesStream();
    const usage = { input_tokens: 2600, input_tokens_details: { cache_write_tokens: 400, cached_tokens: 2000 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 2605 };
    stream.step({ event: 'response.completed', data: JSON.stringify({ type: 'response.completed', sequence_number: 9, response: { id: 'resp_1', object: 'response', status: 'completed', output: [], usage } }) });
    expect(stream.usage).toMatchObject({ input: 2600, cachedInput: 2000, cacheWriteInput: 400, output: 5, final: true });
  });
});

describe('the mock upstream reports cache writes as OpenAI does', () => {
  const opts = { latencyMs: 0, outputTokens: 4 };
  const post = (path: string, body: Record<string, unknown>) => JSON.parse((handleMockRequest('POST', path, body, opts) as { body: string }).body);
  // Over the 1,024 tokens OpenAI caches from.
  const long = 'The quarterly ledger balances to the cent. '.repeat(150);

  it('a GPT-5.6 call writes its prompt (the mock keeps no cache: every call is a first one)', () => {
    const chat = post('/v1/chat/completions', { model: 'gpt-5.6-sol', messages: [{ role: 'user', content: long }] }).usage;
    expect(chat.prompt_tokens).toBeGreaterThan(1024);
    expect(chat.prompt_tokens_details).toMatchObject({ cached_tokens: 0, cache_write_tokens: chat.prompt_tokens });
    const responses = post('/v1/responses', { model: 'gpt-5.6-luna', input: long }).usage;
    expect(responses.input_tokens_details).toEqual({ cache_write_tokens: responses.input_tokens, cached_tokens: 0 });
  });

  it('writes nothing for a prompt under 1,024 tokens, or one in explicit mode without breakpoints', () => {
    expect(post('/v1/chat/completions', { model: 'gpt-5.6-sol', messages: [{ role: 'user', content: 'Hi' }] }).usage.prompt_tokens_details.cache_write_tokens).toBe(0);
    const explicit = post('/v1/responses', { model: 'gpt-5.6-sol', input: long, prompt_cache_options: { mode: 'explicit' } }).usage;
    expect(explicit.input_tokens_details.cache_write_tokens).toBe(0);
  });

  it('older models report no cache_write_tokens (as the recorded gpt-4.1 Responses stream has none)', () => {
    const chat = post('/v1/chat/completions', { model: 'gpt-5.5', messages: [{ role: 'user', content: long }] }).usage;
    expect(chat.prompt_tokens_details).not.toHaveProperty('cache_write_tokens');
    const responses = post('/v1/responses', { model: 'gpt-5.5', input: long }).usage;
    expect(responses.input_tokens_details).toEqual({ cached_tokens: 0 });
  });

  it('is steered by mock_cache_read_tokens and mock_cache_write_tokens (clamped to the prompt)', () => {
    const chat = post('/v1/chat/completions', { model: 'gpt-5.6-sol', messages: [{ role: 'user', content: long }], mock_cache_read_tokens: 500, mock_cache_write_tokens: 300 }).usage;
    expect(chat.prompt_tokens_details).toMatchObject({ cached_tokens: 500, cache_write_tokens: 300 });
    const responses = post('/v1/responses', { model: 'gpt-5.6-sol', input: 'Hi', mock_cache_write_tokens: 1_000_000 }).usage;
    expect(responses.input_tokens_details.cache_write_tokens).toBe(responses.input_tokens);
  });
});

describe('a GPT-5.6 call through the gateway', () => {
  const gw = useUsageGateway(
    (ledgerUrl) => `
storage: {ledger: "${ledgerUrl}"}
server: {timezone: UTC}
providers: {openai: {type: mock, output_tokens: 10}}
pricing: {"openai/gpt-5.6-sol": {input: 5, output: 30}}
projects: {big: {daily_limit: {max_cost_usd: 100}}}
routes:
  r:
    chat_models: [{model_id: gpt-5.6-sol, model: openai/gpt-5.6-sol}]
keys: [{id: big, key: tg-big, project: big}]
`,
  );
  const client = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-big', maxRetries: 0 });
  const content = 'Summarise the quarter for the board in one line. '.repeat(120);
  const steer = { mock_cache_read_tokens: 200, mock_cache_write_tokens: 700 } as Record<string, unknown>;

  it('records the writes in the ledger and bills them at $6.25 (JSON and streamed, chat and Responses)', async () => {
    const c = client();
    const ids: string[] = [];
    const chat = await c.chat.completions.create({ model: 'gpt-5.6-sol', messages: [{ role: 'user', content }], ...steer }).withResponse();
    ids.push(chat.response.headers.get('x-tollgate-request-id')!);
    const stream = await c.chat.completions.create({ model: 'gpt-5.6-sol', messages: [{ role: 'user', content }], stream: true, ...steer }).withResponse();
    for await (const _ of stream.data);
    ids.push(stream.response.headers.get('x-tollgate-request-id')!);
    const responses = await c.responses.create({ model: 'gpt-5.6-sol', input: content, ...steer }).withResponse();
    ids.push(responses.response.headers.get('x-tollgate-request-id')!);
    const rstream = await c.responses.create({ model: 'gpt-5.6-sol', input: content, stream: true, ...steer }).withResponse();
    for await (const _ of rstream.data);
    ids.push(rstream.response.headers.get('x-tollgate-request-id')!);

    const g = gw();
    await g.usage.writer.flush();
    const rows = await g.usage.ledger.rows({ requestIds: ids });
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.cacheWriteInputTokens).toBe(700);
      expect(row.cachedInputTokens).toBe(200);
      const fresh = row.inputTokens - 900;
      expect(row.costUsd).toBeCloseTo((fresh * 5 + 200 * 0.5 + 700 * 6.25 + row.outputTokens * 30) / 1e6, 12);
    }
    const report = await auditCounters(g.usage.ledger, g.gateway.policy, g.store, () => g.clock.now());
    expect(report.lines.find((l) => l.limit === 'project:big:daily')!.drift).toBe(0);
  });

  it('without the provider\'s usage, counts a long prompt as written to the cache, as OpenAI may have billed it', async () => {
    const c = client();
    const json = await c.chat.completions.create({ model: 'gpt-5.6-sol', messages: [{ role: 'user', content }], mock_omit_usage: true } as never).withResponse();
    const short = await c.chat.completions.create({ model: 'gpt-5.6-sol', messages: [{ role: 'user', content: 'Hi' }], mock_omit_usage: true } as never).withResponse();
    const g = gw();
    await g.usage.writer.flush();
    const [row] = await g.usage.ledger.rows({ requestIds: [json.response.headers.get('x-tollgate-request-id')!] });
    expect(row.usageSource).toBe('estimated');
    expect(row.inputTokens).toBeGreaterThan(1024);
    expect(row.cacheWriteInputTokens).toBe(row.inputTokens);
    expect(row.costUsd).toBeCloseTo((row.inputTokens * 6.25 + row.outputTokens * 30) / 1e6, 12);
    // Under 1,024 tokens OpenAI caches nothing.
    const [small] = await g.usage.ledger.rows({ requestIds: [short.response.headers.get('x-tollgate-request-id')!] });
    expect(small.cacheWriteInputTokens).toBe(0);
  });
});
