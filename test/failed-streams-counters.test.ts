// Streams the provider cuts part-way, and a call timed out after the provider had it, are charged the
// tokens it produced (or reserved) and recorded `failed`; the live counters give their request back. Run
// through a gateway on SQLite and on the real PostgreSQL, with limits of every algorithm (fixed, sliding,
// token bucket), in tokens, in dollars and in requests: the counters must equal what the rebuild after a
// restart and `tollgate audit` read from the ledger, and /metrics, the dashboard and `tollgate usage` must
// count the same tokens, cost and requests as the ledger's rows. The counters are in memory, or in a
// private real Redis (its settlement script gives the request back), with and without budget leases. From
// a FinOps QA pass: with leases, the audit reported every limit a slice covered as drifting by the slice's
// unused room (-1,889 tokens on a daily limit whose counter and ledger both read 487), failed calls or not.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import type { Dashboard } from '../src/analytics/dashboard.js';
import type { AuditReport } from '../src/ledger/audit.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { ledgerUsageByLimit } from '../src/ledger/limit-usage.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import { usageReport } from '../src/ledger/usage-report.js';
import type { CounterStore } from '../src/limits/counter-store.js';
import { LeasedStore } from '../src/limits/leased-store.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { Gateway } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { startUsageServices, type UsageServices } from '../src/server/usage-services.js';
import { ManualClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { LEDGER_KINDS, sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { writeConfig } from './helpers/processes.js';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';
import { chat } from './helpers/usage-gateway.js';

const ADMIN = 'qa-admin';
const config = (mockUrl: string, ledgerUrl: string): string => `
server: {admin_key: ${ADMIN}, timezone: UTC}
storage: {ledger: "${ledgerUrl}"}
providers:
  gpt: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-up}
  gpt-slow: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-up, timeout_ms: 150}
pricing: {"gpt/gpt-4o": {input: 2.5, output: 10}, "gpt-slow/gpt-4o": {input: 2.5, output: 10}}
organization: {daily_cap: 10000000, monthly_budget: {max_cost_usd: 100}}
projects:
  p: {daily_limit: {max_token: 10000000, algorithm: sliding_window}, monthly_limit: {max_cost_usd: 100, algorithm: token_bucket}}
  closed: {daily_limit: 0}
users: {t: {daily_limit: {max_cost_usd: 50, algorithm: sliding_window}, rate_limit: 1000}}
routes:
  r:
    chat_models: [{model_id: gpt, model: gpt/gpt-4o}, {model_id: slow, model: gpt-slow/gpt-4o}]
    token_limiting:
      input: {algorithm: token_bucket, window_size: 1 hour, max_token: 1000000}
      output: {algorithm: fixed_window, window_size: 1 hour, max_cost_usd: 10}
keys:
  - {id: k, key: tg-k, project: p, user: u, tier: t}
  - {id: shut, key: tg-shut, project: closed, user: v, tier: t}
`;

interface TestGateway {
  url: string;
  clock: ManualClock;
  store: CounterStore;
  gateway: Gateway;
  usage: UsageServices & { ledger: NonNullable<UsageServices['ledger']>; writer: NonNullable<UsageServices['writer']> };
  close(): Promise<void>;
}

/** A gateway with the usage services wired as `tollgate serve` wires them, on a manual clock, its counters in `makeStore`'s store. */
async function startGateway(yaml: string, makeStore: (clock: ManualClock) => Promise<CounterStore>): Promise<TestGateway> {
  const policy = loadPolicy([writeConfig(yaml)], process.env);
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 12));
  const store = await makeStore(clock);
  const gateway = new Gateway(policy, store, clock);
  const usage = await startUsageServices({ policy, store, clock, log: pino({ level: 'silent' }), currentPolicy: () => gateway.policy });
  if (!usage.ledger || !usage.writer) throw new Error('these tests need the ledger on');
  usage.attach(gateway);
  const app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes, routes: usage.routes, onRejected: usage.onRejected });
  await usage.rebuild();
  const url = await listenLocal(app);
  return {
    url, clock, store, gateway, usage: usage as TestGateway['usage'],
    close: async () => {
      await closeApp(app);
      await usage.close();
      await gateway.close();
      await store.close();
    },
  };
}

const redisServers: RedisServer[] = [];
afterAll(async () => {
  await Promise.all(redisServers.map((r) => r.stop()));
});
const memoryStore = async (clock: ManualClock): Promise<CounterStore> => new MemoryCounterStore(clock, 'UTC');
/** A Redis store on a private, empty server; Redis TIME stands in for the manual clock. */
async function redisStore(clock: ManualClock): Promise<CounterStore> {
  const redis = await startRedisServer();
  redisServers.push(redis);
  const client = createRedisClient(redis.url, 2000);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  return new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, timeOverride: clock });
}

/** The same with budget leases (storage.lease_ms): calls settle against a slice this instance reserved. */
async function leasedRedisStore(clock: ManualClock): Promise<CounterStore> {
  const redis = await startRedisServer();
  redisServers.push(redis);
  const client = createRedisClient(redis.url, 2000);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  const leases = { ms: 60_000, clock };
  return new LeasedStore(new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, timeOverride: clock, leases }), { leaseMs: leases.ms, clock });
}

const SETUPS = [
  ...LEDGER_KINDS.map((l) => ({ name: `${l.kind}, counters in memory`, place: l.place, store: memoryStore })),
  { name: 'sqlite, counters in Redis', place: async (): Promise<LedgerPlace> => sqlitePlace(), store: redisStore },
  { name: 'sqlite, counters in Redis with budget leases', place: async (): Promise<LedgerPlace> => sqlitePlace(), store: leasedRedisStore },
];

describe.each(SETUPS)('failed streams charged their tokens, on $name', ({ place: makePlace, store: makeStore }) => {
  let mock: MockUpstream;
  let place: LedgerPlace;
  let gw: TestGateway;
  let rows: LedgerRow[];

  beforeAll(async () => {
    mock = createMockUpstream({ latencyMs: 0, outputTokens: 40, apiKey: 'sk-up' });
    const mockUrl = await mock.listen(0, '127.0.0.1');
    place = await makePlace();
    gw = await startGateway(config(mockUrl, place.url), makeStore);
    const stream = { stream: true, stream_options: { include_usage: true }, max_tokens: 100 };
    const calls: Array<[string, Record<string, unknown>]> = [
      ...Array.from({ length: 4 }, (): [string, Record<string, unknown>] => ['tg-k', stream]),
      ...Array.from({ length: 2 }, (): [string, Record<string, unknown>] => ['tg-k', { max_tokens: 100 }]),
      // Cut part-way: the socket destroyed, or the API's own error event, after 6 events (5 of output).
      ...Array.from({ length: 3 }, (): [string, Record<string, unknown>] => ['tg-k', { ...stream, mock_abort_after_chunks: 6 }]),
      ...Array.from({ length: 3 }, (): [string, Record<string, unknown>] => ['tg-k', { ...stream, mock_error_event_after_chunks: 6 }]),
      // Past timeout_ms: not streamed, charged its reservation (the provider may finish it); streamed, with no
      // answer yet, nothing (a stream stops when its connection closes).
      ['tg-k', { model: 'slow', max_tokens: 100, mock_latency_ms: 400 }],
      ['tg-k', { ...stream, model: 'slow', mock_latency_ms: 400 }],
      // Failed before producing anything (refunded), and refused by a limit.
      ['tg-k', { max_tokens: 100, mock_error_status: 500 }],
      ['tg-shut', { max_tokens: 100 }],
    ];
    for (const [key, body] of calls) await chat(gw.url, key, { model: 'gpt', ...body });
    // A timed-out call is answered before the mock ends it: its connection is gone by the time the gateway closes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await gw.usage.writer.flush();
    rows = await gw.usage.ledger.rows({});
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
    await mock?.close();
    await place?.drop();
  });

  const total = (pick: (r: LedgerRow) => number, which: (r: LedgerRow) => boolean = () => true): number => rows.filter(which).reduce((s, r) => s + pick(r), 0);
  const isFailed = (r: LedgerRow): boolean => r.decision === 'failed';

  it('records the cut streams failed, with the tokens and cost the provider produced', () => {
    expect(rows).toHaveLength(16);
    const cut = rows.filter((r) => isFailed(r) && r.status === 502 && r.outputTokens > 0);
    expect(cut).toHaveLength(6);
    for (const r of cut) expect(r).toMatchObject({ outputTokens: 5 });
    const timedOut = rows.filter((r) => r.status === 504);
    expect(timedOut.map((r) => [r.decision, r.stream, r.inputTokens > 0, r.outputTokens > 0]).sort()).toEqual([['failed', false, true, true], ['failed', true, false, false]]);
    expect(total((r) => r.costUsd, isFailed)).toBeGreaterThan(0);
    expect(rows.filter((r) => r.decision === 'admitted')).toHaveLength(6);
    expect(rows.filter((r) => r.decision === 'blocked')).toHaveLength(1);
  });

  it('keeps the counters where the ledger rebuilds them: each algorithm, tokens, dollars and requests', async () => {
    const policy = gw.gateway.policy;
    const now = gw.clock.now();
    const ledgerView = await ledgerUsageByLimit(gw.usage.ledger, policy, now);
    const items = ledgerView.limits.map((u) => u.limit.item);
    const live = await gw.store.peek(items);
    const rebuilt = new MemoryCounterStore(gw.clock, 'UTC');
    await rebuildCounters(gw.usage.ledger, policy, rebuilt, () => now, true);
    const after = await rebuilt.peek(items);
    const byId = Object.fromEntries(ledgerView.limits.map((u, i) => [u.limit.id, { live: live[i].used, ledger: u.used, rebuilt: after[i].used }]));
    for (const [id, f] of Object.entries(byId)) {
      expect(f.live, id).toBeCloseTo(f.ledger, 3);
      expect(f.rebuilt, id).toBeCloseTo(f.live, 3);
    }
    // Every algorithm and unit was exercised, the failed calls' tokens in them and their requests not.
    const tokens = total((r) => r.inputTokens + r.outputTokens);
    expect(byId['org:default:daily'].ledger).toBe(tokens);
    expect(byId['project:p:daily'].ledger).toBe(tokens);
    expect(byId['org:default:monthly'].ledger).toBeCloseTo(total((r) => r.costUsd) * 1e6, 3);
    expect(byId['project:p:monthly'].ledger).toBeCloseTo(total((r) => r.costUsd) * 1e6, 3);
    expect(byId['user:u:daily'].ledger).toBeCloseTo(total((r) => r.costUsd) * 1e6, 3);
    expect(byId['route:r:output'].ledger).toBeCloseTo(total((r) => r.costUsd - (r.inputCostUsd ?? 0)) * 1e6, 3);
    expect(byId['route:r:input'].ledger).toBe(total((r) => r.inputTokens));
    expect(byId['user:u:rate'].ledger).toBe(6);
    expect(byId['user:u:rate'].live).toBe(6);

    const res = await fetch(`${gw.url}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const audit = (await res.json()) as AuditReport;
    expect(audit.openReservations).toBe(0);
    expect(audit.lines.filter((l) => l.drift !== 0)).toEqual([]);
  });

  it('/metrics, the dashboard and tollgate usage count the tokens, cost and requests of the ledger', async () => {
    const tokens = total((r) => r.inputTokens + r.outputTokens);
    const cost = total((r) => r.costUsd);
    const metrics = families(await scrapeText(gw.url));
    expect(sum(metrics.get('tollgate_tokens_total'))).toBe(tokens);
    expect(sum(metrics.get('tollgate_cost_usd_total'))).toBeCloseTo(cost, 9);
    const requests = metrics.get('tollgate_requests_total');
    expect(sum(requests, { decision: 'failed' })).toBe(9);
    expect(sum(requests, { decision: 'admitted' })).toBe(6);
    expect(sum(requests, { decision: 'blocked' })).toBe(1);

    const res = await fetch(`${gw.url}/api/tokens/dashboard?org=default`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const d = (await res.json()) as Dashboard;
    expect(d.current_usage.this_month).toMatchObject({ tokens, requests: 6 });
    expect(d.current_usage.this_month.cost_usd).toBeCloseTo(cost, 9);
    expect(d.limits.daily).toMatchObject({ used: tokens });
    expect(d.limits.monthly!.used).toBeCloseTo(cost, 9);

    const report = await usageReport(gw.usage.ledger, { sinceMs: 0, untilMs: gw.clock.now() + 1, by: ['decision'], timezone: 'UTC' });
    expect(report.totals).toMatchObject({ calls: 16, requests: 6, failed: 9, blocked: 1, totalTokens: tokens });
    expect(report.totals.costUsd).toBeCloseTo(cost, 9);
    expect(report.rows.find((r) => r.keys.decision === 'failed')).toMatchObject({ requests: 0, totalTokens: total((r) => r.inputTokens + r.outputTokens, isFailed) });
  });
});
