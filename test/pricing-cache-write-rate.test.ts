// Prompt-cache writes on a model the built-in list does not know (an Azure deployment named `prod-chat`
// serving a GPT-5.6, which reports `cache_write_tokens`). Its writes are billed above input, but nothing in
// its name says so: reserved at the input rate, 40 calls at once went past a money limit ($0.06095 billed on
// $0.05). `pricing.<name>.cache_write` gives the rate, which both the reservation and the bill then use;
// without it, the first answer reporting writes makes later calls reserve at the usual 1.25x, and the log
// says which field to set.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { burst, expectWritesWithinLimit } from './helpers/money-burst.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

const LIMIT = 0.05;
const config = (ledgerUrl: string, price: string): string => `
storage: {ledger: "${ledgerUrl}"}
server: {timezone: UTC}
providers: {azure: {type: mock, latency_ms: 30, output_tokens: 10}}
pricing:
  "azure/prod-chat": ${price}
projects:
  chat: {daily_limit: {max_cost_usd: ${LIMIT}}}
routes:
  r:
    chat_models: [{model_id: prod-chat, model: azure/prod-chat}]
keys:
  - {id: chat, key: tg-chat, project: chat}
`;

/** Over the 1,024 tokens OpenAI caches from; the mock is told to write all of it, as a first call does. */
const PROMPT = Array.from({ length: 600 }, (_, i) => String((i * 7919) % 1000)).join(' ');
const BODY = { model: 'prod-chat', messages: [{ role: 'user', content: PROMPT }], max_completion_tokens: 10, mock_cache_write_tokens: 100_000 };

let gw: UsageTestGateway | undefined;
let place: LedgerPlace | undefined;
afterEach(async () => {
  await gw?.close();
  await place?.drop();
  gw = undefined;
});

/** A gateway whose request log lines are kept in `lines`. */
async function start(price: string): Promise<{ gw: UsageTestGateway; lines: string[] }> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  place = sqlitePlace();
  gw = await startUsageGateway(config(place.url, price), undefined, pino({ level: 'warn' }, sink));
  return { gw, lines };
}

describe('prompt-cache writes of a model the price list does not know', () => {
  it('`cache_write` sets the rate the writes are billed and reserved at: 40 calls at once stay within the limit', async () => {
    const { gw } = await start('{input: 2, output: 12, cache_write: 3}');
    const r = await burst(gw, 'tg-chat', '/v1/chat/completions', BODY);
    expectWritesWithinLimit(r, LIMIT);
    // Each row's cost is its writes at the configured 3 per million (not the 1.25x default's 2.5).
    const [row] = (await gw.usage.ledger.rows({})).filter((x) => x.status === 200);
    const fresh = row!.inputTokens - row!.cachedInputTokens - row!.cacheWriteInputTokens;
    expect(row!.cacheWriteInputTokens).toBeGreaterThan(1024);
    expect(row!.costUsd).toBeCloseTo((row!.cacheWriteInputTokens * 3 + fresh * 2 + row!.outputTokens * 12) / 1e6, 12);
  });

  it('without `cache_write`: once an answer reports writes, later calls reserve at 1.25x input, and the log says which field to set', async () => {
    const { gw, lines } = await start('{input: 2, output: 12}');
    const first = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer tg-chat', 'content-type': 'application/json' }, body: JSON.stringify(BODY) });
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    const warnings = (): string[] => lines.map((l) => JSON.parse(l).msg as string).filter((m) => m.includes('pricing."azure/prod-chat".cache_write'));
    expect(warnings()).toHaveLength(1);
    const r = await burst(gw, 'tg-chat', '/v1/chat/completions', BODY);
    expect(r.ok).toBeGreaterThan(0);
    expect(r.writes).toBeGreaterThan(1024 * r.ok);
    // The whole day's spend: the first call's and the burst's.
    const spent = (await gw.usage.ledger.rows({})).filter((x) => x.status === 200).reduce((sum, x) => sum + x.costUsd, 0);
    expect(spent).toBeLessThanOrEqual(LIMIT + 1e-12);
    expect(r.counter).toBeCloseTo(spent, 12);
    expect(warnings()).toHaveLength(1); // said once, not per call
  });
});
