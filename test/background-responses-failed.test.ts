// Background responses (`background: true`) the provider ends otherwise than `completed`: the gateway
// answers `queued`, follows the response (background-calls.ts) and settles it when it ends. One that ends
// `failed` was recorded `admitted` and its request counted as served, where a stream the provider fails
// part-way is `failed` (f7284b1). Now such a call is `failed`: charged what the provider reports it used
// (its whole grant when it reports nothing, as a timed-out call), its request given back. `incomplete`
// (an answer cut short) and `cancelled` (the client's own doing) stay served, as a stream's
// `response.incomplete` and a stream its client leaves are. The counters, the ledger rows, /metrics and
// `tollgate usage` (usageReport) agree. A background stream that passed on the provider's `response.failed`
// has ended too: settled at once, as a failed stream (with a strict ledger it was charged its whole grant,
// recorded admitted).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../src/ledger/audit.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { usageReport } from '../src/ledger/usage-report.js';
import { encodeSseEvent } from '../src/providers/sse/index.js';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { until } from './helpers/until.js';
import { startUsageGateway, withUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';
import { responseObject, startWireUpstream, type WireUpstream } from './helpers/wire-upstream.js';

const ADMIN = 'qa-admin';
const GRANT = 100;
const INPUT = 20;

/** How each response ends, by its input: the status the provider's GET shows, and the usage it reports. */
const ENDS: Record<string, { status: string; output: number | null }> = {
  'fails with usage': { status: 'failed', output: 7 },
  'fails without usage': { status: 'failed', output: null },
  'is cancelled': { status: 'cancelled', output: 5 },
  'runs out of room': { status: 'incomplete', output: GRANT },
  completes: { status: 'completed', output: 42 },
  'streams, then fails': { status: 'failed', output: 3 },
};

const usageOf = (output: number | null): object | null =>
  output === null ? null : { input_tokens: INPUT, input_tokens_details: { cached_tokens: 0 }, output_tokens: output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: INPUT + output };

/** The response as the provider shows it once ended, with its error when it failed. */
function ended(id: string, body: Record<string, unknown>): Record<string, unknown> {
  const end = ENDS[String(body.input)]!;
  return {
    ...responseObject(id, body, end.status, usageOf(end.output)),
    ...(end.status === 'failed' ? { error: { code: 'server_error', message: 'The model failed.' } } : {}),
    ...(end.status === 'incomplete' ? { incomplete_details: { reason: 'max_output_tokens' } } : {}),
  };
}

let nextId = 1;
const bodies = new Map<string, Record<string, unknown>>();

/** POST: `queued` (a stream: its opening events, a delta, then `response.failed`); GET: the response ended. */
function answer(req: IncomingMessage, res: ServerResponse, raw: string): void {
  const byId = /^\/v1\/responses\/([^/?]+)$/.exec(req.url ?? '');
  const json = (body: object): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (byId) return json(ended(byId[1]!, bodies.get(byId[1]!)!));
  const body = JSON.parse(raw) as Record<string, unknown>;
  const id = `resp_${nextId++}`;
  bodies.set(id, body);
  if (body.stream !== true) return json(responseObject(id, body, 'queued', null));
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  let seq = 0;
  const event = (type: string, data: object): string => encodeSseEvent({ event: type, data: JSON.stringify({ type, sequence_number: seq++, ...data }) });
  res.write(event('response.created', { response: responseObject(id, body, 'queued', null) }));
  res.write(event('response.output_text.delta', { item_id: `msg_${id}`, output_index: 0, content_index: 0, delta: 'Once', logprobs: [] }));
  res.end(event('response.failed', { response: ended(id, body) }));
}

const CONFIG = (ledgerUrl: string, durability = 'batched'): string => `
server: {admin_key: ${ADMIN}}
ledger: {durability: ${durability}}
storage: {ledger: "${ledgerUrl}"}
pricing: {openai/gpt-4.1: {input: 2.0, output: 8.0}}
providers: {openai: {type: openai, base_url: "${upstream.url}", api_key: sk-up}}
projects: {p: {daily_limit: 1000000}}
users: {t: {daily_limit: 500000, rate_limit: 1000}}
routes:
  r:
    chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1}]
keys: [{id: k, key: tg-k, project: p, user: u, tier: t}]
`;

/** POSTs a background Responses call with `input`; its answer's text. */
async function background(url: string, input: string, stream: boolean): Promise<string> {
  const res = await fetch(`${url}/v1/responses`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4.1', input, max_output_tokens: GRANT, background: true, ...(stream ? { stream: true } : {}) }),
  });
  expect(res.status).toBe(200);
  return res.text();
}

let upstream: WireUpstream;
let place: LedgerPlace;
let gw: UsageTestGateway;
const rowsByInput = new Map<string, LedgerRow>();

beforeAll(async () => {
  upstream = await startWireUpstream(answer);
  place = sqlitePlace();
  gw = await startUsageGateway(CONFIG(place.url));
  // Every call at once: each is settled at its first poll, a second after its answer.
  await Promise.all(
    Object.keys(ENDS).map(async (input) => {
      const stream = input.startsWith('streams');
      const text = await background(gw.url, input, stream);
      if (!stream) expect(JSON.parse(text)).toMatchObject({ status: 'queued' });
      else expect(text).toContain('response.failed');
    }),
  );
  await until(() => gw.gateway.background.size === 0, 5_000);
  await gw.usage.writer.flush();
  const rows = await gw.usage.ledger.rows({});
  expect(rows).toHaveLength(Object.keys(ENDS).length);
  for (const row of rows) rowsByInput.set(String(inputOf(row.providerResponseId)), row);
}, 20_000);

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await place?.drop();
});

/** The input of the response with this provider id. */
function inputOf(id: string | null | undefined): unknown {
  return bodies.get(String(id))?.input;
}

describe('a background response the provider ends', () => {
  it("`failed` with its usage: recorded failed, charged that usage, the status sent (200 queued)", () => {
    expect(rowsByInput.get('fails with usage')).toMatchObject({ decision: 'failed', status: 200, inputTokens: INPUT, outputTokens: 7, usageSource: 'provider' });
  });

  it('`failed` with no usage: recorded failed, charged what it reserved (its whole grant), as a timed-out call is', () => {
    const row = rowsByInput.get('fails without usage')!;
    expect(row).toMatchObject({ decision: 'failed', status: 200, outputTokens: GRANT, usageSource: 'estimated' });
    expect(row.inputTokens).toBe(row.reservedInput);
  });

  it('`failed` after its stream passed on `response.failed`: recorded failed with the 502 it ended with', () => {
    expect(rowsByInput.get('streams, then fails')).toMatchObject({ decision: 'failed', status: 502, streamEnd: 'upstream_failed', inputTokens: INPUT, outputTokens: 3, usageSource: 'provider' });
  });

  it('`cancelled`, `incomplete` and `completed`: served, charged the usage reported', () => {
    expect(rowsByInput.get('is cancelled')).toMatchObject({ decision: 'admitted', status: 200, outputTokens: 5, usageSource: 'provider' });
    expect(rowsByInput.get('runs out of room')).toMatchObject({ decision: 'admitted', status: 200, outputTokens: GRANT, usageSource: 'provider' });
    expect(rowsByInput.get('completes')).toMatchObject({ decision: 'admitted', status: 200, outputTokens: 42, usageSource: 'provider' });
  });

  it('the counters, /metrics and tollgate usage agree with the ledger: 3 served, 3 failed, every token counted', async () => {
    const rows = [...rowsByInput.values()];
    const tokens = rows.reduce((n, r) => n + r.inputTokens + r.outputTokens, 0);

    const report = await usageReport(gw.usage.ledger, { sinceMs: 0, untilMs: gw.clock.now() + 1, by: ['decision'], timezone: 'UTC' });
    expect(report.totals).toMatchObject({ calls: 6, requests: 3, failed: 3, totalTokens: tokens });

    const requests = families(await scrapeText(gw.url)).get('tollgate_requests_total');
    expect(sum(requests, { decision: 'failed' })).toBe(3);
    expect(sum(requests, { decision: 'failed', status: '200' })).toBe(2);
    expect(sum(requests, { decision: 'failed', status: '502' })).toBe(1);
    expect(sum(requests, { decision: 'admitted' })).toBe(3);

    const res = await fetch(`${gw.url}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const audit = (await res.json()) as AuditReport;
    expect(audit).toMatchObject({ openReservations: 0, drifting: 0 });
    // The request counter: the audit lets it run above the ledger (token-free requests have no row), so checked here.
    expect(audit.lines.find((l) => l.limit === 'user:u:rate')).toMatchObject({ counter: 3, ledger: 3 });
    expect(audit.lines.find((l) => l.limit === 'project:p:daily')).toMatchObject({ counter: tokens, ledger: tokens });
  });
});

describe('a background stream that passed on `response.failed`, with a strict ledger (not followed: settled at once)', () => {
  it('is recorded failed, charged the usage the event reports, not its whole grant', async () => {
    await withUsageGateway(
      (ledgerUrl) => CONFIG(ledgerUrl, 'strict'),
      async (strict) => {
        expect(await background(strict.url, 'streams, then fails', true)).toContain('response.failed');
        expect(strict.gateway.background.size).toBe(0);
        expect(await strict.usage.ledger.rows({})).toEqual([
          expect.objectContaining({ decision: 'failed', status: 502, streamEnd: 'upstream_failed', inputTokens: INPUT, outputTokens: 3, usageSource: 'provider' }),
        ]);
        const rate = (await (await fetch(`${strict.url}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as AuditReport;
        expect(rate.lines.find((l) => l.limit === 'user:u:rate')).toMatchObject({ counter: 0, ledger: 0 });
      },
    );
  });
});
