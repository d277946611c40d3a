// Fees billed per tool call, not per token: Anthropic's web search ($10 per 1,000 searches, counted in
// `usage.server_tool_use.web_search_requests`) and OpenAI's Responses web search and file search (one
// `web_search_call` / `file_search_call` output item per call). The ledger's cost_usd must include them,
// as the provider's invoice does, and money limits must reserve them up front: before, concurrent
// web-search calls under a `max_cost_usd` budget reserved only their tokens and all went through. The
// official SDKs against a gateway in front of a small upstream that answers as the real APIs do.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { useUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

/** What the upstream bills every call: a small prompt, a short answer. */
const INPUT = 100;
const OUTPUT = 20;
/** Searches an Anthropic call makes without `max_uses`; OpenAI calls make `max_tool_calls` or this many. */
const DEFAULT_SEARCHES = 3;

type Body = Record<string, unknown> & { model: string; stream?: boolean; tools?: Array<{ type?: string; max_uses?: number }> };

let server: Server;
let upstreamUrl = '';

function sse(res: ServerResponse, events: Array<Record<string, unknown>>, named: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const e of events) res.write(`${named ? `event: ${String(e.type)}\n` : ''}data: ${JSON.stringify(e)}\n\n`);
  res.end();
}

/** A Messages answer: one `server_tool_use` block per search the tool allows, and their count in usage. */
function messages(body: Body, res: ServerResponse): void {
  const tool = body.tools?.find((t) => t.type?.startsWith('web_search_'));
  const searches = tool ? (tool.max_uses ?? DEFAULT_SEARCHES) : 0;
  const calls = Array.from({ length: searches }, (_, i) => [
    { type: 'server_tool_use', id: `srvtoolu_${i}`, name: 'web_search', input: { query: 'news' } },
    { type: 'web_search_tool_result', tool_use_id: `srvtoolu_${i}`, content: [] },
  ]).flat();
  const content = [...calls, { type: 'text', text: 'Here is the news.' }];
  const serverToolUse = { web_search_requests: searches, web_fetch_requests: 0 };
  const usage = { input_tokens: INPUT, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: OUTPUT, server_tool_use: serverToolUse };
  const message = { id: 'msg_01', type: 'message', role: 'assistant', model: body.model, stop_reason: 'end_turn', stop_sequence: null };
  if (!body.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify({ ...message, content, usage }));
  }
  const blocks = content.flatMap((block, index) =>
    block.type === 'text'
      ? [
          { type: 'content_block_start', index, content_block: { type: 'text', text: '' } },
          { type: 'content_block_delta', index, delta: { type: 'text_delta', text: (block as { text: string }).text } },
          { type: 'content_block_stop', index },
        ]
      : [
          { type: 'content_block_start', index, content_block: block },
          { type: 'content_block_stop', index },
        ],
  );
  sse(
    res,
    [
      { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1, server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 } } } },
      ...blocks,
      { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { ...usage, server_tool_use: serverToolUse } },
      { type: 'message_stop' },
    ],
    true,
  );
}

/** A Responses answer: one `web_search_call` or `file_search_call` item per call (`max_tool_calls`, else 3). */
function responses(body: Body, res: ServerResponse): void {
  const types = (body.tools ?? []).map((t) => t.type ?? '');
  const n = typeof body.max_tool_calls === 'number' ? body.max_tool_calls : DEFAULT_SEARCHES;
  const items: Array<Record<string, unknown>> = [];
  for (let i = 0; i < n; i++) {
    if (types.some((t) => t.startsWith('web_search'))) items.push({ id: `ws_${i}`, type: 'web_search_call', status: 'completed', action: { type: 'search', query: 'news' } });
    if (types.includes('file_search')) items.push({ id: `fs_${i}`, type: 'file_search_call', status: 'completed', queries: ['news'], results: null });
  }
  const message = { id: 'msg_1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Done.', annotations: [] }] };
  const response = {
    id: 'resp_1', object: 'response', created_at: 1760000000, status: 'completed', error: null, incomplete_details: null, instructions: null,
    max_output_tokens: body.max_output_tokens ?? null, model: body.model, output: [...items, message], parallel_tool_calls: true,
    previous_response_id: null, store: true, temperature: 1, text: { format: { type: 'text' } }, tool_choice: 'auto', tools: body.tools ?? [],
    top_p: 1, truncation: 'disabled', metadata: {},
    usage: { input_tokens: INPUT, input_tokens_details: { cached_tokens: 0 }, output_tokens: OUTPUT, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: INPUT + OUTPUT },
  };
  if (!body.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify(response));
  }
  let seq = 0;
  const events: Array<Record<string, unknown>> = [{ type: 'response.created', response: { ...response, status: 'in_progress', output: [], usage: null } }];
  [...items, message].forEach((item, index) => {
    events.push({ type: 'response.output_item.added', output_index: index, item: { ...item, status: 'in_progress' } });
    events.push({ type: 'response.output_item.done', output_index: index, item });
  });
  events.push({ type: 'response.completed', response });
  sse(res, events.map((e) => ({ ...e, sequence_number: seq++ })), false);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as Body;
      // Slow enough that concurrent calls all reserve before any settles.
      setTimeout(() => (req.url?.endsWith('/messages') ? messages(body, res) : responses(body, res)), 100);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

// claude-sonnet-4-5 at $3 / $15, gpt-4.1 at $2 / $8 and o3 at $2 / $8 per million tokens; haiku's web
// searches at a negotiated $5 per 1,000. Search budgets: $0.12 a day, and a per-call allowance for unseen
// input small enough that the fee, not the tokens, is what a reservation is about.
const config = (ledgerUrl: string): string => `
storage: {ledger: "${ledgerUrl}"}
server: {timezone: UTC}
enforcement: {stored_context_tokens: 200}
providers:
  claude: {type: anthropic, base_url: "${upstreamUrl}"}
  oa: {type: openai, base_url: "${upstreamUrl}/v1"}
pricing:
  "claude/claude-sonnet-4-5": {input: 3, output: 15}
  "claude/claude-haiku-4-5": {input: 1, output: 5, tool_calls: {web_search: 5}}
  "oa/gpt-4.1": {input: 2, output: 8}
  "oa/o3": {input: 2, output: 8}
projects:
  big: {daily_limit: {max_cost_usd: 100}}
  search: {daily_limit: {max_cost_usd: 0.12}}
  tight: {daily_limit: {max_cost_usd: 0.05}}
  small: {daily_limit: {max_cost_usd: 0.05}}
routes:
  r:
    chat_models:
      - {model_id: claude, model: claude/claude-sonnet-4-5}
      - {model_id: haiku, model: claude/claude-haiku-4-5}
      - {model_id: gpt-4.1, model: oa/gpt-4.1}
      - {model_id: o3, model: oa/o3}
keys:
  - {id: big, key: tg-big, project: big}
  - {id: search, key: tg-search, project: search}
  - {id: tight, key: tg-tight, project: tight}
  - {id: small, key: tg-small, project: small}
`;

describe('tool-call fees in the ledger and in money limits', () => {
  const gw = useUsageGateway(config);
  const anthropic = (key: string): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: key, maxRetries: 0 });
  const openai = (key: string): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
  const ask = [{ role: 'user' as const, content: "What's in the news today?" }];
  // `max_tool_calls` is a Responses API parameter the SDK version here does not type yet; it sends it as given.
  const capped = <T extends object>(params: T, maxToolCalls: number): T => ({ ...params, max_tool_calls: maxToolCalls }) as T;
  const webSearch = (maxUses?: number) => [{ type: 'web_search_20250305' as const, name: 'web_search' as const, ...(maxUses ? { max_uses: maxUses } : {}) }];

  /** The rows of `requestIds`, once written, and the audit line of `limit` (its counter beside the ledger's rebuild). */
  async function rowsOf(g: UsageTestGateway, requestIds: string[]): Promise<LedgerRow[]> {
    await g.usage.writer.flush();
    const rows = await g.usage.ledger.rows({ requestIds });
    return requestIds.map((id) => rows.find((r) => r.requestId === id)!);
  }
  async function audit(g: UsageTestGateway, limit: string): Promise<{ counter: number; costs: number }> {
    await g.usage.writer.flush();
    const report = await auditCounters(g.usage.ledger, g.gateway.policy, g.store, () => g.clock.now());
    const line = report.lines.find((l) => l.limit === limit)!;
    // The counter rebuilt from the ledger (input and output cost per row) agrees with the live one.
    expect(line.drift).toBe(0);
    expect(line.ledger).toBeCloseTo(line.counter, 12);
    const rows = (await g.usage.ledger.rows({})).filter((r) => r.limits.includes(limit));
    return { counter: line.counter, costs: rows.reduce((sum, r) => sum + r.costUsd, 0) };
  }

  it('adds Anthropic web-search fees to cost_usd, streamed and not, at the list price or the configured one', async () => {
    const client = anthropic('tg-big');
    const plain = await client.messages.create({ model: 'claude', max_tokens: 200, messages: ask }).withResponse();
    const searched = await client.messages.create({ model: 'claude', max_tokens: 200, messages: ask, tools: webSearch(2) }).withResponse();
    const stream = client.messages.stream({ model: 'claude', max_tokens: 200, messages: ask, tools: webSearch() });
    const streamed = await stream.finalMessage();
    expect(streamed.usage.server_tool_use?.web_search_requests).toBe(DEFAULT_SEARCHES);
    const haiku = await client.messages.create({ model: 'haiku', max_tokens: 200, messages: ask, tools: webSearch(4) }).withResponse();
    const ids = [plain, searched, haiku].map((r) => r.response.headers.get('request-id')!);
    const g = gw();
    await g.usage.writer.flush();
    const [plainRow, searchedRow, haikuRow] = await rowsOf(g, ids);
    const streamedRow = (await g.usage.ledger.rows({})).find((r) => r.stream && r.modelId === 'claude')!;
    const tokens = (INPUT * 3 + OUTPUT * 15) / 1e6;
    // A call without tools costs its tokens, exactly as before.
    expect(plainRow.costUsd).toBe((INPUT * 3 + OUTPUT * 15) / 1e6);
    expect(plainRow.inputCostUsd).toBe((INPUT * 3) / 1e6);
    // $10 per 1,000 searches: 2 searches $0.02, 3 searches $0.03; haiku's 4 at the configured $5 per 1,000.
    expect(searchedRow.costUsd).toBeCloseTo(tokens + 0.02, 12);
    expect(streamedRow.costUsd).toBeCloseTo(tokens + 0.03, 12);
    expect(haikuRow.costUsd).toBeCloseTo((INPUT * 1 + OUTPUT * 5) / 1e6 + 0.02, 12);
    // The fees are in their own column too, and count as input spend.
    expect([plainRow, searchedRow, streamedRow, haikuRow].map((r) => r.toolFeesUsd)).toEqual([0, 0.02, 0.03, 0.02]);
    expect(searchedRow.inputCostUsd).toBeCloseTo((INPUT * 3) / 1e6 + 0.02, 12);
    // The counter holds what the ledger says was spent, fees included.
    const { counter, costs } = await audit(g, 'project:big:daily');
    expect(counter).toBeCloseTo(costs, 12);
  });

  it('adds OpenAI web-search and file-search fees, by tool version and model, streamed and not', async () => {
    const client = openai('tg-big');
    const ga = await client.responses.create(capped({ model: 'gpt-4.1', input: 'news?', tools: [{ type: 'web_search' }] }, 2)).withResponse();
    const preview = await client.responses.create(capped({ model: 'gpt-4.1', input: 'news?', tools: [{ type: 'web_search_preview' }] }, 2)).withResponse();
    const reasoning = await client.responses.create(capped({ model: 'o3', input: 'news?', tools: [{ type: 'web_search_preview' }] }, 2)).withResponse();
    const files = await client.responses.create(capped({ model: 'gpt-4.1', input: 'docs?', tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] }, 4)).withResponse();
    const stream = await client.responses.create({ model: 'gpt-4.1', input: 'news?', tools: [{ type: 'web_search' }], stream: true });
    let completed = 0;
    for await (const e of stream) if (e.type === 'response.completed') completed = e.response.output.filter((i) => i.type === 'web_search_call').length;
    expect(completed).toBe(DEFAULT_SEARCHES);
    const plain = await client.responses.create({ model: 'gpt-4.1', input: 'hi' }).withResponse();
    const g = gw();
    const [gaRow, previewRow, reasoningRow, filesRow, plainRow] = await rowsOf(g, [ga, preview, reasoning, files, plain].map((r) => r.request_id!));
    const streamedRow = (await g.usage.ledger.rows({})).find((r) => r.stream && r.endpoint === 'responses')!;
    const tokens = (INPUT * 2 + OUTPUT * 8) / 1e6;
    expect(gaRow.costUsd).toBeCloseTo(tokens + 2 * 0.01, 12);
    // web_search_preview: $25 per 1,000 on a non-reasoning model, $10 on a reasoning one.
    expect(previewRow.costUsd).toBeCloseTo(tokens + 2 * 0.025, 12);
    expect(reasoningRow.costUsd).toBeCloseTo(tokens + 2 * 0.01, 12);
    expect(filesRow.costUsd).toBeCloseTo(tokens + 4 * 0.0025, 12);
    expect(streamedRow.costUsd).toBeCloseTo(tokens + DEFAULT_SEARCHES * 0.01, 12);
    expect(plainRow.costUsd).toBe((INPUT * 2 + OUTPUT * 8) / 1e6);
    const { counter, costs } = await audit(g, 'project:big:daily');
    expect(counter).toBeCloseTo(costs, 12);
  });

  it('holds a max_cost_usd budget against concurrent web-search calls: each reserves its searches up front', async () => {
    // Each call runs 5 searches ($0.05) and a few tokens; the budget ($0.12) has room for two of them.
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () =>
        anthropic('tg-search')
          .messages.create({ model: 'claude', max_tokens: 100, messages: ask, tools: webSearch(5) })
          .then(() => 'ok' as const, (e: unknown) => (e instanceof Anthropic.RateLimitError ? ('429' as const) : e)),
      ),
    );
    expect(outcomes.filter((o) => o !== 'ok' && o !== '429')).toEqual([]);
    const served = outcomes.filter((o) => o === 'ok').length;
    // What the provider billed the calls served, computed by hand: within the budget.
    const billed = served * ((INPUT * 3 + OUTPUT * 15) / 1e6 + 5 * 0.01);
    expect(served).toBe(2);
    expect(billed).toBeLessThanOrEqual(0.12);
    const { counter, costs } = await audit(gw(), 'project:search:daily');
    expect(costs).toBeCloseTo(billed, 12);
    expect(counter).toBeCloseTo(billed, 12);
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('reserves max_tool_calls searches on a Responses call: the clamp leaves room for their fee', async () => {
    // $0.05 = 50,000 µUSD; 3 searches at $10 per 1,000 take 30,000 of it; input at 2, output at 8 µUSD a token.
    const { data, response } = await openai('tg-tight').responses.create(capped({ model: 'gpt-4.1', input: 'news?', tools: [{ type: 'web_search' }], max_output_tokens: 100_000 }, 3)).withResponse();
    expect(data.output.filter((i) => i.type === 'web_search_call')).toHaveLength(3);
    const [row] = await rowsOf(gw(), [response.headers.get('x-request-id')!]);
    const room = Math.floor((50_000 - 30_000 - row.reservedInput * 2) / 8 + 1e-9);
    expect(Number(response.headers.get('x-tollgate-clamped-max-tokens'))).toBe(room);
    expect(row.reservedOutput).toBe(room);
  });

  it('holds a bound larger than the whole budget to the room an empty window leaves: admitted alone, not refused for good', async () => {
    // 10 searches ($0.10) cannot fit a $0.05 budget; reserving them all would answer 400 to every such call.
    const client = anthropic('tg-small');
    const first = await client.messages.create({ model: 'claude', max_tokens: 200, messages: ask, tools: webSearch(10) }).withResponse();
    // The fees take what the input and the least output (enforcement.min_output_tokens) leave.
    expect(first.response.headers.get('x-tollgate-clamped-max-tokens')).toBe('1');
    // It took the whole window: the next one waits for the next.
    await expect(client.messages.create({ model: 'claude', max_tokens: 200, messages: ask, tools: webSearch(10) })).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    const [row] = await rowsOf(gw(), [first.response.headers.get('request-id')!]);
    expect(row.toolFeesUsd).toBeCloseTo(0.1, 12);
  });
});

