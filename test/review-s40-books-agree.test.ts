// QA review (s40, books): the three books — Prometheus /metrics, the ledger's rows (and `tollgate usage`,
// the dashboard API computed from them) and the limit counters — agree with each other and with what the
// upstream reported, after a seeded random mix of every kind of call: chat (streamed or not, with and without
// stream_options.include_usage), legacy completions, embeddings, Responses, Anthropic messages (with prompt-cache
// reads and 5-minute / 1-hour writes), chat completions bridged to Anthropic, count_tokens, calls a rate limit
// or a token limit refused (429), bad bodies (400), unknown models (404), upstream errors, error events
// mid-stream and clients leaving mid-stream. Run on a SQLite ledger and on a PostgreSQL one.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromFamily } from 'parse-prometheus-text-format';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import type { AuditReport } from '../src/ledger/audit.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { mulberry32 } from '../src/util/prng.js';
import { LEDGER_KINDS, type LedgerPlace } from './helpers/ledgers.js';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';
import { CLI } from './helpers/processes.js';
import { startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

const run = promisify(execFile);
const ADMIN = 'adm-s40books-Admin0Key';
const CALLS = 160;

const config = (upstreamUrl: string, ledger: string, userLabels: boolean): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {counters: memory, ledger: "${ledger}"}
metrics: {user_labels: ${userLabels}}
providers:
  gpt: {type: openai, base_url: "${upstreamUrl}/v1", api_key: sk-up}
  claude: {type: anthropic, base_url: "${upstreamUrl}", api_key: sk-up}
organization: {daily_cap: 100000000}
projects:
  web: {daily_limit: 10000000}
  batch: {daily_limit: 20000}
  tiny: {daily_limit: 60}
users:
  tier_b: {rate_limit: 30}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: gpt/gpt-4o}
      - {model_id: instruct, model: gpt/gpt-3.5-turbo-instruct}
      - {model_id: claude-sonnet-4-5, model: claude/claude-sonnet-4-5}
    embedding_models: [{model_id: text-embedding-3-small, model: gpt/text-embedding-3-small}]
keys:
  - {id: k1, key: tg-k1, user: ann, project: web}
  - {id: k2, key: tg-k2, user: ben, tier: tier_b, project: batch}
  - {id: k3, key: tg-k3, project: web}
  - {id: k4, key: tg-k4, user: cid, project: tiny}
`;

interface Seen {
  i: number;
  key: string;
  kind: string;
  path: string;
  status: number;
  /** x-tollgate-limit: the gateway's own limit refused it. */
  limit: string | null;
  /** The error's code, for an error answer (OpenAI's error.code, Anthropic's error.type). */
  code: string | null;
  requestId: string | null;
}

interface Usage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/** The usage a provider reported in a JSON answer or an SSE stream, input including prompt-cache reads and writes. */
function reportedUsage(path: string, text: string): Usage | undefined {
  const objects: Array<Record<string, any>> = [];
  if (text.trimStart().startsWith('{')) objects.push(JSON.parse(text));
  else for (const line of text.split('\n')) if (line.startsWith('data: ') && line.slice(6).trim().startsWith('{')) objects.push(JSON.parse(line.slice(6)));
  let u: Usage | undefined;
  for (const o of objects) {
    if (path === '/v1/messages') {
      const au = o.type === 'message_start' ? o.message.usage : o.type === 'message_delta' || o.type === 'message' ? o.usage : undefined;
      if (!au) continue;
      const cur = u ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
      const read = au.cache_read_input_tokens ?? cur.cacheRead;
      const write = au.cache_creation_input_tokens ?? cur.cacheWrite;
      const fresh = au.input_tokens ?? cur.input - cur.cacheRead - cur.cacheWrite;
      u = { input: fresh + read + write, output: au.output_tokens ?? cur.output, cacheRead: read, cacheWrite: write };
    } else if (path === '/v1/responses') {
      const ru = o.type === 'response.completed' ? o.response.usage : o.object === 'response' ? o.usage : undefined;
      if (ru) u = { input: ru.input_tokens, output: ru.output_tokens, cacheRead: ru.input_tokens_details?.cached_tokens ?? 0, cacheWrite: ru.input_tokens_details?.cache_write_tokens ?? 0 };
    } else if (o.usage) {
      u = { input: o.usage.prompt_tokens, output: o.usage.completion_tokens ?? 0, cacheRead: o.usage.prompt_tokens_details?.cached_tokens ?? 0, cacheWrite: o.usage.prompt_tokens_details?.cache_write_tokens ?? 0 };
    }
  }
  return u;
}

/** A seeded mix of calls, sent one after the other; what the client saw of each. */
async function randomMix(url: string, seed: number): Promise<Seen[]> {
  const rand = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const seen: Seen[] = [];
  for (let i = 0; i < CALLS; i++) {
    const key = pick(['tg-k1', 'tg-k2', 'tg-k3', 'tg-k1', 'tg-k2', 'tg-k4']);
    const r = rand();
    const text = `call-${i}. ` + 'word '.repeat(Math.floor(rand() * 30));
    const out = Math.floor(rand() * 40);
    const cacheRead = rand() < 0.5 ? Math.floor(rand() * 8) : 0;
    let path = '/v1/chat/completions';
    let body: Record<string, unknown> = { model: 'gpt-4o', messages: [{ role: 'user', content: text }], mock_output_tokens: out, mock_cache_read_tokens: cacheRead };
    let kind = 'chat';
    let abort = false;
    if (r < 0.1) [kind, body.stream] = ['chat-stream', true];
    else if (r < 0.18) [kind, body.stream, body.stream_options] = ['chat-stream-usage', true, { include_usage: true }];
    else if (r < 0.24) [kind, path, body] = ['completions', '/v1/completions', { model: 'instruct', prompt: text, max_tokens: 50, mock_output_tokens: out, ...(rand() < 0.5 ? { stream: true } : {}) }];
    else if (r < 0.3) [kind, path, body] = ['embeddings', '/v1/embeddings', { model: 'text-embedding-3-small', input: text }];
    else if (r < 0.38) [kind, path, body] = ['responses', '/v1/responses', { model: 'gpt-4o', input: text, mock_output_tokens: out, mock_cache_read_tokens: cacheRead, ...(rand() < 0.5 ? { stream: true } : {}) }];
    else if (r < 0.5) {
      kind = 'messages';
      path = '/v1/messages';
      body = { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: text }], mock_output_tokens: out, mock_cache_read_tokens: Math.floor(rand() * 500), mock_cache_write_tokens: Math.floor(rand() * 300), ...(rand() < 0.3 ? { mock_cache_write_1h_tokens: 100 } : {}), ...(rand() < 0.5 ? { stream: true } : {}) };
    } else if (r < 0.56) {
      kind = 'bridge';
      body = { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: text }], mock_output_tokens: out, mock_cache_read_tokens: Math.floor(rand() * 500), mock_cache_write_tokens: Math.floor(rand() * 300), ...(rand() < 0.5 ? { stream: true, ...(rand() < 0.5 ? { stream_options: { include_usage: true } } : {}) } : {}) };
    } else if (r < 0.63) [kind, path, body] = ['count_tokens', '/v1/messages/count_tokens', { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: text }] }];
    else if (r < 0.66) [kind, body] = ['bad', { model: 'gpt-4o', messages: 'nope' }];
    else if (r < 0.69) [kind, body.model] = ['unknown-model', 'no-such-model'];
    else if (r < 0.76) {
      kind = 'upstream-error';
      body.mock_error_status = pick([500, 503, 429, 400]);
      if (rand() < 0.5) body.stream = true;
    } else if (r < 0.8) [kind, body.stream, body.mock_error_event_after_chunks, body.mock_output_tokens] = ['stream-error-event', true, 2, 20];
    else if (r < 0.86) {
      kind = 'abort';
      abort = true;
      if (rand() < 0.5) [body.stream, body.mock_chunk_delay_ms, body.mock_output_tokens] = [true, 20, 30];
      else [path, body] = ['/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: text }], mock_output_tokens: 30, mock_chunk_delay_ms: 20, mock_cache_read_tokens: 50 }];
    }
    const ac = new AbortController();
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(body),
      signal: ac.signal,
    });
    if (abort && res.status === 200) {
      const reader = res.body!.getReader();
      await reader.read();
      await reader.read();
      ac.abort();
      await new Promise((resolve) => setTimeout(resolve, 80));
      seen.push({ i, key, kind, path, status: res.status, limit: res.headers.get('x-tollgate-limit'), code: null, requestId: res.headers.get('x-tollgate-request-id') });
      continue;
    }
    const answer = await res.text();
    let code: string | null = null;
    if (res.status >= 400) {
      try {
        const e = (JSON.parse(answer) as { error?: { code?: string; type?: string } }).error;
        code = e?.code ?? e?.type ?? null;
      } catch {
        code = null;
      }
    }
    seen.push({ i, key, kind, path, status: res.status, limit: res.headers.get('x-tollgate-limit'), code, requestId: res.headers.get('x-tollgate-request-id') });
  }
  return seen;
}

const seriesOf = (f: PromFamily | undefined): Array<Record<string, string>> => (f?.metrics ?? []).map((m) => m.labels ?? {});

describe.each(LEDGER_KINDS)('the three books agree after a random mix: $kind', ({ place: makePlace }) => {
  let upstream: MockUpstream;
  let upstreamUrl: string;
  let place: LedgerPlace;
  let gw: UsageTestGateway;
  let seen: Seen[];
  let rows: LedgerRow[];
  let m: Map<string, PromFamily>;

  beforeAll(async () => {
    upstream = createMockUpstream({ latencyMs: 0, outputTokens: 12, apiKey: 'sk-up' });
    upstreamUrl = await upstream.listen(0, '127.0.0.1');
    place = await makePlace();
    // The gateway's clock at the real time, so that `tollgate usage --since today` and the dashboard's today see its rows.
    gw = await startUsageGateway(config(upstreamUrl, place.url, false), Date.now());
    seen = await randomMix(gw.url, 4040);
    // Clients that left: their rows are written once the gateway sees them gone.
    for (let waited = 0; waited < 3000; waited += 50) {
      await gw.usage.writer.flush();
      rows = await gw.usage.ledger.rows({});
      if (seen.every((s) => !s.requestId || s.status >= 400 ? true : rows.some((r) => r.requestId === s.requestId))) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    m = families(await scrapeText(gw.url));
  }, 90_000);
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
    await place?.drop();
  });

  it('ran every kind of call, with every outcome', () => {
    const kinds = new Set(seen.map((s) => s.kind));
    expect([...kinds].sort()).toEqual(['abort', 'bad', 'bridge', 'chat', 'chat-stream', 'chat-stream-usage', 'completions', 'count_tokens', 'embeddings', 'messages', 'responses', 'stream-error-event', 'unknown-model', 'upstream-error']);
    const refused = seen.filter((s) => s.status === 429 && s.limit);
    expect(refused.some((s) => s.limit!.startsWith('user:ben:rate'))).toBe(true);
    expect(rows.some((r) => r.blockedBy === 'project:tiny:daily')).toBe(true);
    expect(refused.some((s) => s.kind === 'count_tokens')).toBe(true);
    expect(seen.some((s) => s.status === 429 && !s.limit)).toBe(true); // the upstream's own 429
    for (const d of ['admitted', 'blocked', 'failed']) expect(rows.some((r) => r.decision === d), d).toBe(true);
    expect(rows.some((r) => r.streamEnd === 'client_gone')).toBe(true);
  });

  it('one ledger row per call, none for requests refused before they were calls (400, 404, count_tokens)', () => {
    const calls = seen.filter((s) => !['bad', 'unknown-model', 'count_tokens'].includes(s.kind));
    expect(rows.length).toBe(calls.length);
    for (const s of calls) expect(rows.filter((r) => r.requestId === s.requestId).length, `${s.i} ${s.kind}`).toBe(1);
    for (const s of seen.filter((x) => ['bad', 'unknown-model', 'count_tokens'].includes(x.kind))) expect(rows.some((r) => r.requestId === s.requestId)).toBe(false);
  });

  it("tokens, prompt-cache tokens and cost by organization, project and model in /metrics equal the ledger's sums", async () => {
    const groups = await gw.usage.ledger.summarize({ groupBy: ['organization', 'project', 'model'] });
    expect(groups.length).toBeGreaterThanOrEqual(8);
    for (const g of groups) {
      const labels = { organization: g.keys.organization!, project: g.keys.project ?? '', model: g.keys.model! };
      const at = JSON.stringify(labels);
      expect(sum(m.get('tollgate_tokens_total'), { ...labels, type: 'input' }), at).toBe(g.inputTokens);
      expect(sum(m.get('tollgate_tokens_total'), { ...labels, type: 'output' }), at).toBe(g.outputTokens);
      expect(sum(m.get('tollgate_prompt_cache_tokens_total'), { ...labels, type: 'read' }), at).toBe(g.cachedInputTokens);
      expect(sum(m.get('tollgate_prompt_cache_tokens_total'), { ...labels, type: 'write' }), at).toBe(g.cacheWriteInputTokens);
      expect(sum(m.get('tollgate_cost_usd_total'), labels), at).toBeCloseTo(g.costUsd, 12);
      expect(sum(m.get('tollgate_requests_total'), labels), at).toBe(g.calls);
    }
    // No series the ledger does not have.
    const models = new Set(groups.map((g) => g.keys.model));
    for (const s of seriesOf(m.get('tollgate_tokens_total'))) expect(models.has(s.model)).toBe(true);
    const total = (await gw.usage.ledger.summarize({ groupBy: [] }))[0];
    expect(sum(m.get('tollgate_tokens_total'))).toBe(total.inputTokens + total.outputTokens);
    expect(sum(m.get('tollgate_cost_usd_total'))).toBeCloseTo(total.costUsd, 12);
    // The gateway's clock has not moved since it started: the burn rate is over one minute, every call in it.
    expect(sum(m.get('tollgate_burn_rate_tokens_per_minute'), { organization: 'default' })).toBe(total.inputTokens + total.outputTokens);
    expect(sum(m.get('tollgate_burn_rate_usd_per_hour'), { organization: 'default' })).toBeCloseTo(total.costUsd * 60, 9);
  });

  it("requests by status and decision equal the ledger's rows; token-free requests are the model=\"\" series", async () => {
    const byStatus = await gw.usage.ledger.summarize({ groupBy: ['status', 'decision'] });
    const calls = (m.get('tollgate_requests_total')?.metrics ?? []).filter((x) => x.labels!.model !== '');
    for (const g of byStatus) {
      const metric = calls.filter((x) => x.labels!.status === g.keys.status && x.labels!.decision === g.keys.decision).reduce((s, x) => s + Number(x.value), 0);
      expect(metric, `${g.keys.status} ${g.keys.decision}`).toBe(g.calls);
    }
    expect(calls.reduce((s, x) => s + Number(x.value), 0)).toBe(rows.length);
    // count_tokens answered: model "", decision admitted, one each; those a limit refused are not answered.
    const counted = seen.filter((s) => s.kind === 'count_tokens' && s.status === 200).length;
    expect(counted).toBeGreaterThan(0);
    expect(sum(m.get('tollgate_requests_total'), { model: '' })).toBe(counted);
    expect(sum(m.get('tollgate_requests_total'), { model: '', decision: 'admitted', status: '200' })).toBe(counted);
  });

  // A limit refuses with a 429 naming it, or, for a call that can never pass (its input, or input + max_tokens
  // beyond a whole window: README "Errors", request_over_window / output_over_window), with a 400 that names
  // no limit but is a call the limit refused: a ledger row with blocked_by, and a hit on /metrics.
  it('limit hits in /metrics equal the calls the limits refused: the 429s the client got from the gateway, and the 400s of calls that can never pass', () => {
    const byLimit = new Map<string, number>();
    const hit = (limit: string): void => void byLimit.set(limit.replace(/^user:[^:]+:/, 'user:*:'), (byLimit.get(limit.replace(/^user:[^:]+:/, 'user:*:')) ?? 0) + 1);
    for (const s of seen) if (s.status === 429 && s.limit) hit(s.limit);
    const neverPass = rows.filter((r) => r.status === 400 && r.blockedBy);
    for (const r of neverPass) {
      const s = seen.find((x) => x.requestId === r.requestId)!;
      // Anthropic's format has no code: its error type is invalid_request_error.
      expect([s.status, s.limit, ['request_over_window', 'output_over_window', 'invalid_request_error'].includes(s.code ?? '')]).toEqual([400, null, true]);
      hit(r.blockedBy!);
    }
    expect(byLimit.size).toBeGreaterThanOrEqual(2);
    for (const [limit, n] of byLimit) expect(sum(m.get('tollgate_limit_hits_total'), { limit, mode: 'enforce' }), limit).toBe(n);
    expect(sum(m.get('tollgate_limit_hits_total'))).toBe([...byLimit.values()].reduce((a, b) => a + b, 0));
    // The blocked rows are the refused calls; the refused count_tokens are rejected requests, with their code.
    expect(rows.filter((r) => r.decision === 'blocked').length).toBe(seen.filter((s) => s.status === 429 && s.limit && s.kind !== 'count_tokens').length + neverPass.length);
    expect(sum(m.get('tollgate_rejected_requests_total'), { path: '/v1/messages/count_tokens', status: '429', code: 'rate_limit_exceeded' })).toBe(
      seen.filter((s) => s.kind === 'count_tokens' && s.status === 429).length,
    );
    expect(sum(m.get('tollgate_rejected_requests_total'), { status: '404', code: 'model_not_found' })).toBe(seen.filter((s) => s.kind === 'unknown-model').length);
    expect(sum(m.get('tollgate_rejected_requests_total'), { status: '400' })).toBe(seen.filter((s) => s.kind === 'bad').length);
  });

  it("each row's tokens are what the upstream reported for the request the gateway sent", async () => {
    const log = upstream.requests();
    let compared = 0;
    for (const row of rows.filter((r) => r.usageSource === 'provider' && r.status === 200)) {
      const s = seen.find((x) => x.requestId === row.requestId)!;
      // Chat completions to a Claude model go upstream as Anthropic messages.
      const upstreamPath = row.provider === 'claude' ? '/v1/messages' : s.path;
      const sent = log.filter((q) => q.path === upstreamPath && q.text.includes(`call-${s.i}.`));
      expect(sent.length, `${s.i} ${s.kind}`).toBe(1);
      const q = sent[0];
      // The same request again, straight to the mock (which answers a request alike every time).
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      for (const h of ['authorization', 'x-api-key', 'anthropic-version']) if (typeof q.headers[h] === 'string') headers[h] = q.headers[h] as string;
      const again = await fetch(upstreamUrl + q.url, { method: 'POST', headers, body: q.text });
      const u = reportedUsage(upstreamPath, await again.text());
      expect(u, `${s.i} ${s.kind}`).toBeDefined();
      expect({ i: s.i, kind: s.kind, in: row.inputTokens, out: row.outputTokens, read: row.cachedInputTokens, write: row.cacheWriteInputTokens }).toEqual({
        i: s.i,
        kind: s.kind,
        in: u!.input,
        out: u!.output,
        read: u!.cacheRead,
        write: u!.cacheWrite,
      });
      compared++;
    }
    expect(compared).toBeGreaterThan(40);
  });

  it('`tollgate usage --format json` totals equal the ledger, by any grouping', async () => {
    const total = (await gw.usage.ledger.summarize({ groupBy: [] }))[0];
    for (const by of ['project,model', 'status,decision', 'endpoint', 'usage_source']) {
      const { stdout } = await run(process.execPath, [CLI, 'usage', '--ledger', place.url, '--timezone', 'UTC', '--by', by, '--since', 'today', '--format', 'json']);
      const report = JSON.parse(stdout) as { rows: Array<Record<string, number | string | null>>; totals: Record<string, number> };
      expect(report.totals, by).toEqual({
        calls: total.calls,
        requests: total.served,
        blocked: total.blocked,
        failed: total.failed,
        input_tokens: total.inputTokens,
        output_tokens: total.outputTokens,
        cached_input_tokens: total.cachedInputTokens,
        cache_write_input_tokens: total.cacheWriteInputTokens,
        total_tokens: total.inputTokens + total.outputTokens,
        estimated_tokens: total.estimatedTokens,
        cost_usd: Math.round(total.costUsd * 1e9) / 1e9,
      });
      expect(report.rows.reduce((s, r) => s + Number(r.calls), 0)).toBe(total.calls);
    }
    expect(total.calls).toBe(rows.length);
    expect(total.served).toBe(rows.filter((r) => r.decision === 'admitted' || r.decision === 'clamped').length);
  }, 30_000);

  it("the dashboard's today equals the ledger, and its limits equal the counters /metrics shows", async () => {
    const res = await fetch(`${gw.url}/api/tokens/dashboard?org=default`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    const dash = (await res.json()) as { current_usage: { today: Record<string, number> }; limits: { daily: { used: number; remaining: number; max: number } } };
    const total = (await gw.usage.ledger.summarize({ groupBy: [] }))[0];
    expect(dash.current_usage.today).toEqual({
      tokens: total.inputTokens + total.outputTokens,
      input_tokens: total.inputTokens,
      output_tokens: total.outputTokens,
      cached_input_tokens: total.cachedInputTokens,
      cache_write_input_tokens: total.cacheWriteInputTokens,
      cost_usd: expect.closeTo(total.costUsd, 9),
      requests: total.served,
    });
    expect(dash.limits.daily.used).toBe(total.inputTokens + total.outputTokens);
    expect(sum(m.get('tollgate_limit_remaining_tokens'), { limit: 'org:default:daily' })).toBe(dash.limits.daily.remaining);
    expect(sum(m.get('tollgate_limit_utilization'), { limit: 'org:default:daily' })).toBeCloseTo(dash.limits.daily.used / dash.limits.daily.max, 12);
  });

  it('`tollgate audit` reports drift 0 for every limit, and /metrics headroom is the counters', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'audit', '--url', gw.url, '--admin-key', ADMIN, '--format', 'json']);
    const report = JSON.parse(stdout) as AuditReport;
    expect(report.openReservations).toBe(0);
    expect(report.lines.map((l) => l.limit).sort()).toEqual(['org:default:daily', 'project:batch:daily', 'project:tiny:daily', 'project:web:daily', 'user:ben:rate']);
    expect(report.lines.filter((l) => l.drift !== 0)).toEqual([]);
    expect(report.drifting).toBe(0);
    for (const line of report.lines.filter((l) => l.unit === 'tokens')) {
      expect(sum(m.get('tollgate_limit_remaining_tokens'), { limit: line.limit }), line.limit).toBe(Math.max(0, Number(/:daily$/.test(line.limit) ? { 'org:default:daily': 100000000, 'project:batch:daily': 20000, 'project:tiny:daily': 60, 'project:web:daily': 10000000 }[line.limit] : 0) - line.counter));
    }
    // The rate limit counts ben's served calls and the token counts answered to him (no ledger row); not
    // the calls and counts it refused, nor the calls the provider failed (README: a failed call's request does not count).
    const rate = report.lines.find((l) => l.limit === 'user:ben:rate')!;
    const benServed = rows.filter((r) => r.keyId === 'k2' && (r.decision === 'admitted' || r.decision === 'clamped')).length;
    const benCounts = seen.filter((s) => s.key === 'tg-k2' && s.kind === 'count_tokens' && s.status === 200).length;
    expect(benCounts).toBeGreaterThan(0);
    expect(rate.ledger).toBe(benServed);
    expect(rate.counter).toBe(benServed + benCounts);
    expect(rate.counter).toBeLessThanOrEqual(30);
    expect(sum(m.get('tollgate_limit_remaining_requests'), { limit: 'user:*:rate' })).toBe(30 - rate.counter);
  }, 30_000);

  it('prices prompt-cache reads and writes as documented (Anthropic Sonnet 4.5: $3 in, $15 out, reads $0.30, 5-minute writes $3.75, 1-hour $6; gpt-4o $2.50 / $1.25 cached / $10)', () => {
    const perM = 1e-6;
    const claude = rows.filter((r) => r.model === 'claude-sonnet-4-5' && r.usageSource === 'provider' && r.cachedInputTokens + r.cacheWriteInputTokens > 0);
    expect(claude.length).toBeGreaterThan(3);
    for (const r of claude) {
      const fresh = r.inputTokens - r.cachedInputTokens - r.cacheWriteInputTokens;
      const fiveMin = r.cacheWriteInputTokens - r.cacheWrite1hInputTokens;
      const expected = (fresh * 3 + r.cachedInputTokens * 0.3 + fiveMin * 3.75 + r.cacheWrite1hInputTokens * 6 + r.outputTokens * 15) * perM;
      expect(r.costUsd, r.requestId).toBeCloseTo(expected, 12);
    }
    const gpt = rows.filter((r) => r.model === 'gpt-4o' && r.usageSource === 'provider' && r.cachedInputTokens > 0);
    expect(gpt.length).toBeGreaterThan(3);
    for (const r of gpt) expect(r.costUsd, r.requestId).toBeCloseTo(((r.inputTokens - r.cachedInputTokens) * 2.5 + r.cachedInputTokens * 1.25 + r.outputTokens * 10) * perM, 12);
  });

  it('series carry no user label and no per-user limit name unless user_labels is on', () => {
    for (const name of ['tollgate_tokens_total', 'tollgate_cost_usd_total', 'tollgate_prompt_cache_tokens_total', 'tollgate_requests_total']) {
      for (const s of seriesOf(m.get(name))) expect(Object.keys(s), name).not.toContain('user');
    }
    for (const name of ['tollgate_limit_hits_total', 'tollgate_limit_remaining_tokens', 'tollgate_limit_remaining_requests', 'tollgate_limit_utilization']) {
      for (const s of seriesOf(m.get(name))) expect(s.limit, name).not.toMatch(/^user:(ann|ben|cid):/);
    }
    expect(seriesOf(m.get('tollgate_limit_hits_total')).map((s) => s.limit)).toContain('user:*:rate');
  });
});

describe('with metrics.user_labels on, the user series equal the ledger by user, and the dashboard breakdowns add up to it', () => {
  let upstream: MockUpstream;
  let place: LedgerPlace;
  let gw: UsageTestGateway;

  beforeAll(async () => {
    upstream = createMockUpstream({ latencyMs: 0, outputTokens: 12, apiKey: 'sk-up' });
    const url = await upstream.listen(0, '127.0.0.1');
    place = await LEDGER_KINDS[0].place();
    gw = await startUsageGateway(config(url, place.url, true), Date.now());
    await randomMix(gw.url, 77);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await gw.usage.writer.flush();
  }, 90_000);
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
    await place?.drop();
  });

  it('tokens and cost by user', async () => {
    const m = families(await scrapeText(gw.url));
    const groups = await gw.usage.ledger.summarize({ groupBy: ['organization', 'project', 'user', 'model'] });
    expect(new Set(groups.map((g) => g.keys.user))).toEqual(new Set(['ann', 'ben', 'cid', 'k3']));
    for (const g of groups) {
      const labels = { organization: g.keys.organization!, project: g.keys.project ?? '', user: g.keys.user!, model: g.keys.model! };
      expect(sum(m.get('tollgate_tokens_total'), { ...labels, type: 'input' }), JSON.stringify(labels)).toBe(g.inputTokens);
      expect(sum(m.get('tollgate_tokens_total'), { ...labels, type: 'output' })).toBe(g.outputTokens);
      expect(sum(m.get('tollgate_cost_usd_total'), labels)).toBeCloseTo(g.costUsd, 12);
    }
    // Limits are named per user now; requests_total keeps its labels (no user).
    expect(seriesOf(m.get('tollgate_limit_hits_total')).map((s) => s.limit)).toContain('user:ben:rate');
    for (const s of seriesOf(m.get('tollgate_requests_total'))) expect(Object.keys(s)).not.toContain('user');
  });

  it("the dashboard's breakdowns each add up to this month, which is the ledger's", async () => {
    const res = await fetch(`${gw.url}/api/tokens/dashboard?org=default`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const dash = (await res.json()) as { current_usage: { this_month: { tokens: number; cost_usd: number } }; breakdown: Record<string, Array<{ tokens: number; cost_usd: number; user?: string | null }>> };
    const total = (await gw.usage.ledger.summarize({ groupBy: [] }))[0];
    expect(dash.current_usage.this_month.tokens).toBe(total.inputTokens + total.outputTokens);
    expect(dash.current_usage.this_month.cost_usd).toBeCloseTo(total.costUsd, 9);
    for (const b of ['by_project', 'by_model', 'by_user']) {
      expect(dash.breakdown[b].reduce((s, e) => s + e.tokens, 0), b).toBe(total.inputTokens + total.outputTokens);
      expect(dash.breakdown[b].reduce((s, e) => s + e.cost_usd, 0), b).toBeCloseTo(total.costUsd, 9);
    }
    const byUser = await gw.usage.ledger.summarize({ groupBy: ['user'] });
    for (const g of byUser) expect(dash.breakdown.by_user.find((e) => e.user === g.keys.user)?.tokens, g.keys.user!).toBe(g.inputTokens + g.outputTokens);
  });
});
