// OpenAI gpt-5.2 to gpt-5.5 costed end to end, as a FinOps lead checks a new price list: the official
// `openai` client against a real `tollgate serve` process in front of the project's mock upstream; each
// ledger row's cost_usd against a figure computed by hand from OpenAI's published prices, and the same
// totals in `tollgate usage`, the dashboard API and the Prometheus cost counter.
//
// The mock upstream counts the prompt itself and reports no OpenAI cache hits, so a thin layer in this
// process rewrites the usage it reports when a request carries `mock_usage: {input, cached}` (removed before
// the mock sees the request): a call can be reported with 272,001 input tokens without sending them.
//
// Prices, USD per million tokens (input / cached input / output), from list-prices.ts' sources:
//   gpt-5.4       2.50 / 0.25 / 15;  past 272K input tokens (cached included) 5 / 0.50 / 22.50 for the whole call
//   gpt-5.5       5 / 0.50 / 30;     past 272K 10 / 1 / 45
//   gpt-5.4-pro   30 / 30 / 180 (no cached rate); past 272K 60 / 60 / 270
//   priority:     gpt-5.5 12.50 / 1.25 / 75; gpt-5.4 5 / 0.50 / 30 (openai.com/api-priority-processing);
//                 gpt-5.4-nano (no priority price) 2.5x standard: 0.50 / 0.05 / 3.125
//   flex:         half of standard, past the line too ("2x input and 1.5x output ... for standard, batch, and flex")
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { PriceBook } from '../src/ledger/price-book.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { CLI, startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';

const run = promisify(execFile);
const OUTPUT = 20; // every mock answer's completion tokens
const ADMIN = 'admin-e2e-secret';

/** Sets the reported usage on an OpenAI usage object (chat or Responses shape) found in `value`. */
function rewriteUsage(value: Record<string, unknown>, want: { input: number; cached: number }): void {
  const holder = (value.response as Record<string, unknown> | undefined) ?? value;
  const usage = holder.usage as Record<string, unknown> | null | undefined;
  if (!usage) return;
  if ('prompt_tokens' in usage) {
    usage.prompt_tokens = want.input;
    usage.total_tokens = want.input + (usage.completion_tokens as number);
    usage.prompt_tokens_details = { ...(usage.prompt_tokens_details as object), cached_tokens: want.cached };
  } else {
    usage.input_tokens = want.input;
    usage.total_tokens = want.input + (usage.output_tokens as number);
    usage.input_tokens_details = { ...(usage.input_tokens_details as object), cached_tokens: want.cached };
  }
}

/** An HTTP layer in front of the mock upstream that reports `mock_usage` as the call's usage. */
function usageRewriter(mockUrl: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      void (async () => {
        const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
        const want = body?.mock_usage as { input: number; cached: number } | undefined;
        if (body) delete body.mock_usage;
        const upstream = await fetch(mockUrl + req.url, {
          method: req.method,
          headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
          body: body ? JSON.stringify(body) : undefined,
        });
        let text = await upstream.text();
        const type = upstream.headers.get('content-type') ?? 'application/json';
        if (want && type.includes('text/event-stream')) {
          text = text
            .split('\n')
            .map((line) => {
              if (!line.startsWith('data: {')) return line;
              const event = JSON.parse(line.slice(6)) as Record<string, unknown>;
              rewriteUsage(event, want);
              return 'data: ' + JSON.stringify(event);
            })
            .join('\n');
        } else if (want) {
          const json = JSON.parse(text) as Record<string, unknown>;
          rewriteUsage(json, want);
          text = JSON.stringify(json);
        }
        res.writeHead(upstream.status, { 'content-type': type });
        res.end(text);
      })().catch((e: unknown) => res.writeHead(500).end(String(e)));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

const config = (ledgerUrl: string, upstream: string): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {ledger: "${ledgerUrl}"}
ledger: {flush_interval_ms: 20}
providers:
  openai: {type: openai, base_url: "${upstream}/v1", api_key: sk-mock}
  capped: {type: openai, base_url: "${upstream}/v1", api_key: sk-mock}
pricing:
  # A money limit is priced from config alone: gpt-5.4 at its list price, whose 272K band it keeps in proportion.
  "capped/gpt-5.4": {input: 2.5, output: 15, cached_input: 0.25}
projects:
  finops: {daily_limit: 100000000}
  capped: {daily_limit: 100000000}
routes:
  main:
    chat_models:
      - {model_id: gpt-5.4, model: openai/gpt-5.4}
      - {model_id: gpt-5.5, model: openai/gpt-5.5}
      - {model_id: gpt-5.4-pro, model: openai/gpt-5.4-pro}
      - {model_id: gpt-5.4-nano, model: openai/gpt-5.4-nano}
      - {model_id: gpt-5.4-2026-03-05, model: openai/gpt-5.4-2026-03-05}
  capped:
    chat_models:
      - {model_id: capped-5.4, model: capped/gpt-5.4}
    token_limiting:
      total: {algorithm: fixed_window, window_size: 1 day, max_cost_usd: 1}
keys:
  - {id: finops, key: tg-finops, project: finops, routes: [main]}
  - {id: capped, key: tg-capped, project: capped, routes: [capped]}
`;

let mock: MockUpstream;
let rewriter: Server;
let place: LedgerPlace;
let gateway: RunningProcess;
let client: OpenAI;

beforeAll(async () => {
  mock = createMockUpstream({ latencyMs: 0, outputTokens: OUTPUT });
  const mockUrl = await mock.listen(0, '127.0.0.1');
  const layer = await usageRewriter(mockUrl);
  rewriter = layer.server;
  place = sqlitePlace();
  gateway = await startCli(['serve', '--config', writeConfig(config(place.url, layer.url)), '--port', '0']);
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-finops', maxRetries: 0 });
}, 20_000);

afterAll(async () => {
  await gateway?.stop();
  rewriter?.closeAllConnections();
  await new Promise((resolve) => (rewriter ? rewriter.close(resolve) : resolve(undefined)));
  await mock?.close();
  await place?.drop();
});

type Tier = 'priority' | 'flex' | 'default';
interface Case {
  name: string;
  model: string;
  input: number;
  cached: number;
  tier?: Tier;
  stream?: boolean;
  api?: 'chat' | 'responses';
  /** Hand-computed from the published prices, in µUSD (USD per million tokens x tokens). */
  microUsd: number;
  /** The output price it was computed with: the rest of microUsd is the row's input_cost_usd. */
  out: number;
}

// Each case's figure: fresh input x input price + cached x cached price + 20 output tokens x output price.
const CASES: Case[] = [
  { name: 'gpt-5.4, cache hits, not streamed', model: 'gpt-5.4', input: 10_000, cached: 6_000, microUsd: 4_000 * 2.5 + 6_000 * 0.25 + OUTPUT * 15, out: 15 }, // $0.0118
  { name: 'gpt-5.4, cache hits, streamed', model: 'gpt-5.4', input: 20_000, cached: 8_000, stream: true, microUsd: 12_000 * 2.5 + 8_000 * 0.25 + OUTPUT * 15, out: 15 }, // $0.0323
  { name: 'gpt-5.4 at exactly 272,000 input tokens: standard', model: 'gpt-5.4', input: 272_000, cached: 72_000, microUsd: 200_000 * 2.5 + 72_000 * 0.25 + OUTPUT * 15, out: 15 }, // $0.5183
  // 200,001 fresh: the cached tokens put it past the line, and then every token is at the band.
  { name: 'gpt-5.4 at 272,001 input tokens: the band for all', model: 'gpt-5.4', input: 272_001, cached: 72_000, microUsd: 200_001 * 5 + 72_000 * 0.5 + OUTPUT * 22.5, out: 22.5 }, // $1.036455
  { name: 'gpt-5.4 at 272,001, streamed', model: 'gpt-5.4', input: 272_001, cached: 0, stream: true, microUsd: 272_001 * 5 + OUTPUT * 22.5, out: 22.5 }, // $1.360455
  { name: 'gpt-5.5 past the line, Responses API streamed', model: 'gpt-5.5', input: 300_000, cached: 100_000, stream: true, api: 'responses', microUsd: 200_000 * 10 + 100_000 * 1 + OUTPUT * 45, out: 45 }, // $2.1009
  { name: 'gpt-5.5 under the line, Responses API', model: 'gpt-5.5', input: 50_000, cached: 10_000, api: 'responses', microUsd: 40_000 * 5 + 10_000 * 0.5 + OUTPUT * 30, out: 30 }, // $0.2056
  { name: 'gpt-5.4-pro past the line (cache hits bill as input)', model: 'gpt-5.4-pro', input: 280_000, cached: 80_000, microUsd: 280_000 * 60 + OUTPUT * 270, out: 270 }, // $16.8054
  { name: 'gpt-5.5 served at priority', model: 'gpt-5.5', input: 1_000, cached: 400, tier: 'priority', microUsd: 600 * 12.5 + 400 * 1.25 + OUTPUT * 75, out: 75 }, // $0.0095
  { name: 'gpt-5.5 at priority, streamed', model: 'gpt-5.5', input: 1_000, cached: 400, tier: 'priority', stream: true, microUsd: 600 * 12.5 + 400 * 1.25 + OUTPUT * 75, out: 75 },
  { name: 'gpt-5.4 served at priority', model: 'gpt-5.4', input: 1_000, cached: 400, tier: 'priority', microUsd: 600 * 5 + 400 * 0.5 + OUTPUT * 30, out: 30 }, // $0.0038
  { name: 'gpt-5.4-nano at priority: no priority price, 2.5x', model: 'gpt-5.4-nano', input: 1_000, cached: 400, tier: 'priority', microUsd: 600 * 0.5 + 400 * 0.05 + OUTPUT * 3.125, out: 3.125 }, // $0.0003825
  { name: 'dated snapshot gpt-5.4-2026-03-05', model: 'gpt-5.4-2026-03-05', input: 1_000, cached: 400, microUsd: 600 * 2.5 + 400 * 0.25 + OUTPUT * 15, out: 15 }, // $0.0019
  { name: 'gpt-5.4 at flex past the line: half the band', model: 'gpt-5.4', input: 300_000, cached: 0, tier: 'flex', microUsd: 300_000 * 2.5 + OUTPUT * 11.25, out: 11.25 }, // $0.750225
  { name: 'dated snapshot past the line', model: 'gpt-5.4-2026-03-05', input: 300_000, cached: 0, microUsd: 300_000 * 5 + OUTPUT * 22.5, out: 22.5 }, // $1.50045
];

/** Makes the call; returns the gateway's request id. */
async function call(c: Case): Promise<string> {
  const extra = { mock_usage: { input: c.input, cached: c.cached } } as Record<string, unknown>;
  const tier = c.tier ? { service_tier: c.tier } : {};
  if (c.api === 'responses') {
    if (c.stream) {
      const { data, response } = await client.responses.create({ model: c.model, input: 'Hello', stream: true, ...tier, ...extra }).withResponse();
      for await (const _event of data) void _event;
      return response.headers.get('x-tollgate-request-id')!;
    }
    const { data, response } = await client.responses.create({ model: c.model, input: 'Hello', ...tier, ...extra }).withResponse();
    expect(data.usage?.input_tokens).toBe(c.input);
    return response.headers.get('x-tollgate-request-id')!;
  }
  const messages = [{ role: 'user' as const, content: 'Hello' }];
  if (c.stream) {
    const { data, response } = await client.chat.completions.create({ model: c.model, messages, stream: true, stream_options: { include_usage: true }, ...tier, ...extra }).withResponse();
    let reported: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of data) if (chunk.usage) reported = chunk.usage;
    expect(reported?.prompt_tokens_details?.cached_tokens).toBe(c.cached);
    return response.headers.get('x-tollgate-request-id')!;
  }
  const { data, response } = await client.chat.completions.create({ model: c.model, messages, ...tier, ...extra }).withResponse();
  expect(data.usage?.prompt_tokens).toBe(c.input);
  expect(data.service_tier).toBe(c.tier ?? 'default');
  return response.headers.get('x-tollgate-request-id')!;
}

async function ledgerRows(ids: string[]): Promise<LedgerRow[]> {
  const ledger = await openLedger(place.url);
  try {
    for (let i = 0; i < 100; i++) {
      const rows = await ledger.rows({ requestIds: ids });
      if (rows.length === ids.length) return rows;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`the ledger did not get all ${ids.length} rows`);
  } finally {
    await ledger.close();
  }
}

const nano = (usd: number): number => Math.round(usd * 1e9);

describe('gpt-5.x calls costed end to end', () => {
  const ids = new Map<Case, string>();
  let rows: LedgerRow[] = [];

  beforeAll(async () => {
    for (const c of CASES) ids.set(c, await call(c));
    rows = await ledgerRows([...ids.values()]);
  }, 20_000);

  it.each(CASES.map((c) => [c.name, c] as const))('%s: the ledger row costs what the published prices say', (_name, c) => {
    const row = rows.find((r) => r.requestId === ids.get(c))!;
    expect(row.inputTokens).toBe(c.input);
    expect(row.cachedInputTokens).toBe(c.cached);
    expect(row.outputTokens).toBe(OUTPUT);
    expect(row.serviceTier).toBe(c.tier === 'default' ? null : (c.tier ?? null));
    expect(row.costUsd).toBeCloseTo(c.microUsd / 1e6, 12);
    // The input part, from which money limits are rebuilt and audited.
    expect(row.inputCostUsd).toBeCloseTo((c.microUsd - OUTPUT * c.out) / 1e6, 12);
  });

  it('shows the same total in `tollgate usage`, the dashboard API and the cost metric', async () => {
    const expectedUsd = CASES.reduce((s, c) => s + c.microUsd, 0) / 1e6; // $24.3469675
    const ledgerUsd = rows.reduce((s, r) => s + r.costUsd, 0);
    expect(ledgerUsd).toBeCloseTo(expectedUsd, 9);
    const byModel = new Map<string, number>();
    for (const c of CASES) byModel.set(`openai/${c.model}`, (byModel.get(`openai/${c.model}`) ?? 0) + c.microUsd / 1e6);

    const { stdout } = await run(process.execPath, [CLI, 'usage', '--ledger', place.url, '--by', 'model', '--format', 'json', '--since', '1d']);
    const report = JSON.parse(stdout) as { rows: Array<{ model: string; cost_usd: number | string }>; totals: { cost_usd: number | string; calls: number } };
    expect(report.totals.calls).toBe(CASES.length);
    expect(nano(Number(report.totals.cost_usd))).toBe(nano(expectedUsd));
    expect(Object.fromEntries(report.rows.map((r) => [r.model, nano(Number(r.cost_usd))]))).toEqual(Object.fromEntries([...byModel].map(([m, usd]) => [m, nano(usd)])));

    const res = await fetch(`${gateway.url}/api/tokens/dashboard?org=default`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    const dash = (await res.json()) as {
      current_usage: { today: { cost_usd: number; requests: number }; this_month: { cost_usd: number } };
      breakdown: { by_model: Array<{ model: string; cost_usd: number }> };
    };
    expect(dash.current_usage.today.requests).toBe(CASES.length);
    expect(nano(dash.current_usage.today.cost_usd)).toBe(nano(expectedUsd));
    expect(nano(dash.current_usage.this_month.cost_usd)).toBe(nano(expectedUsd));
    for (const [model, usd] of byModel) expect(nano(dash.breakdown.by_model.find((m) => m.model === model)?.cost_usd ?? -1), model).toBe(nano(usd));

    const metrics = families(await scrapeText(gateway.url));
    expect(sum(metrics.get('tollgate_cost_usd_total'), { project: 'finops' })).toBeCloseTo(expectedUsd, 9);
    // Its `model` label is provider/model, as in the reports.
    for (const [model, usd] of byModel) expect(sum(metrics.get('tollgate_cost_usd_total'), { project: 'finops', model }), model).toBeCloseTo(usd, 9);
    expect(sum(metrics.get('tollgate_cost_usd_total'), { model: 'openai/gpt-5.4-pro' })).toBeCloseTo(16.8054, 9);
  });
});

describe('a max_cost_usd route limit on gpt-5.4', () => {
  // ~N tokens: " hello" is one o200k token.
  const prompt = (words: number): string => 'hello '.repeat(words);
  const capped = (): OpenAI => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-capped', maxRetries: 0 });

  it('reserves a request whose input estimate passes 272K at the band: refused where the standard price would fit', async () => {
    // ~280K tokens: $0.70 at $2.50, $1.40 at the band's $5, against $1 a day: it can never fit.
    const refused = await capped().chat.completions.create({ model: 'capped-5.4', max_completion_tokens: 100, messages: [{ role: 'user', content: prompt(280_000) }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as Error).message).toMatch(/input alone \(\$1\.40\d*\) is more than the route 'capped'/);
    // ~262K tokens stay under the line: $0.655 at $2.50 fits.
    const served = await capped().chat.completions.create({ model: 'capped-5.4', max_completion_tokens: 100, messages: [{ role: 'user', content: prompt(262_000) }] });
    expect(served.usage!.prompt_tokens).toBeGreaterThan(250_000);
    expect(served.usage!.prompt_tokens).toBeLessThanOrEqual(272_000);
    // Settled at what the call cost (~$0.655), the limit's counter agreeing with the ledger.
    const res = await fetch(`${gateway.url}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const audit = (await res.json()) as { lines: Array<{ limit: string; unit: string; counter: number; ledger: number; drift: number }> };
    const line = audit.lines.find((l) => l.limit.includes('capped') && l.unit === 'usd')!;
    const usd = (served.usage!.prompt_tokens * 2.5 + served.usage!.completion_tokens * 15) / 1e6;
    expect(line.counter).toBeCloseTo(usd, 9);
    expect(line.ledger).toBeCloseTo(usd, 9);
    expect(line.drift).toBe(0);
  }, 20_000);
});

describe('priority prices of OpenAI models (src/ledger, not the built gateway)', () => {
  // openai.com/api-priority-processing lists GPT-5.4 mini at $1.50 / $0.15 / $9 and GPT-5.2 at $3.50 /
  // $0.35 / $28 (2x standard, "excludes long context"). Without entries these were priced at the 2.5x
  // fallback: 25% over what OpenAI bills.
  const book = new PriceBook(new Map());
  const usage = { input: 1_000, output: 100, cachedInput: 400, serviceTier: 'priority' as const };

  it('prices gpt-5.4-mini and gpt-5.2 at priority from OpenAI priority table, dated snapshots included', () => {
    expect(book.cost('openai', 'gpt-5.4-mini', usage)).toBeCloseTo((600 * 1.5 + 400 * 0.15 + 100 * 9) / 1e6, 12);
    expect(book.cost('openai', 'gpt-5.4-mini-2026-03-17', usage)).toBeCloseTo((600 * 1.5 + 400 * 0.15 + 100 * 9) / 1e6, 12);
    expect(book.cost('openai', 'gpt-5.2', usage)).toBeCloseTo((600 * 3.5 + 400 * 0.35 + 100 * 28) / 1e6, 12);
  });
});
