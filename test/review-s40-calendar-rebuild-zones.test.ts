// Review s40 (calendar): counters rebuilt from the ledger (a restart on memory counters, a flushed Redis) land
// in the windows the store counts, on days and months the existing tests do not cover: São Paulo's
// historical DST at midnight (4 Nov 2018 began at 01:00 and had 23 hours; 16 Feb 2019 had 25), Kathmandu
// (+05:45) at January's end and in leap February 2028, Apia (+13) at the year's end, Lord Howe's 23.5-hour
// day, London's 23- and 25-hour days, Chatham (+13:45 to +12:45, a 25-hour day). Memory store and a private
// Redis (the store's clock stands in for Redis TIME). Each window's edges are written out by hand from the
// zone's rules. Rows: one in the last millisecond before the window (100 tokens, the window before), one in
// its first (10), one in its middle (1); the rebuild runs at the window's last millisecond.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import { ApplicableLimits } from '../src/limits/applicable-limits.js';
import { RouteTable } from '../src/routing/route-table.js';
import { ManualClock } from '../src/util/clock.js';
import { load } from './helpers/config-texts.js';
import { useMemoryAndRedisStores } from './helpers/memory-and-redis-stores.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';
import type { CalendarEdge } from './helpers/calendar-edge.js';

const EDGES: CalendarEdge[] = [
  // -03 until 2018-11-04 00:00, then -02: the 4th begins at 01:00 local, 03:00Z, and ends at 02:00Z.
  { name: 'São Paulo, a day that begins at 01:00 (23 h)', timezone: 'America/Sao_Paulo', unit: 'day', start: '2018-11-04T03:00:00Z', end: '2018-11-05T02:00:00Z' },
  { name: 'São Paulo, the day before it', timezone: 'America/Sao_Paulo', unit: 'day', start: '2018-11-03T03:00:00Z', end: '2018-11-04T03:00:00Z' },
  // 2019-02-17 00:00 -02 went back to 2019-02-16 23:00 -03.
  { name: 'São Paulo, back at midnight (25 h)', timezone: 'America/Sao_Paulo', unit: 'day', start: '2019-02-16T02:00:00Z', end: '2019-02-17T03:00:00Z' },
  { name: 'São Paulo, November 2018 (DST inside)', timezone: 'America/Sao_Paulo', unit: 'month', start: '2018-11-01T03:00:00Z', end: '2018-12-01T02:00:00Z' },
  { name: 'Kathmandu (+05:45), January 2027', timezone: 'Asia/Kathmandu', unit: 'month', start: '2026-12-31T18:15:00Z', end: '2027-01-31T18:15:00Z' },
  { name: 'Kathmandu (+05:45), February 2028', timezone: 'Asia/Kathmandu', unit: 'month', start: '2028-01-31T18:15:00Z', end: '2028-02-29T18:15:00Z' },
  { name: 'Kathmandu (+05:45), 29 Feb 2028', timezone: 'Asia/Kathmandu', unit: 'day', start: '2028-02-28T18:15:00Z', end: '2028-02-29T18:15:00Z' },
  { name: 'Apia (+13), December 2026', timezone: 'Pacific/Apia', unit: 'month', start: '2026-11-30T11:00:00Z', end: '2026-12-31T11:00:00Z' },
  { name: 'Apia (+13), New Year’s Eve', timezone: 'Pacific/Apia', unit: 'day', start: '2026-12-30T11:00:00Z', end: '2026-12-31T11:00:00Z' },
  { name: 'Lord Howe, 30 min forward (23.5 h)', timezone: 'Australia/Lord_Howe', unit: 'day', start: '2026-10-03T13:30:00Z', end: '2026-10-04T13:00:00Z' },
  { name: 'London, spring forward (23 h)', timezone: 'Europe/London', unit: 'day', start: '2026-03-29T00:00:00Z', end: '2026-03-29T23:00:00Z' },
  { name: 'London, fall back (25 h)', timezone: 'Europe/London', unit: 'day', start: '2026-10-24T23:00:00Z', end: '2026-10-26T00:00:00Z' },
  { name: 'Chatham, +13:45 to +12:45 (25 h)', timezone: 'Pacific/Chatham', unit: 'day', start: '2026-04-04T10:15:00Z', end: '2026-04-05T11:15:00Z' },
];

const FACTORIES = useMemoryAndRedisStores();

describe.each(FACTORIES)('counters rebuilt from the ledger at DST, offset, month and year edges, %s store', (_name, factory) => {
  const { ledger } = useLedger({ each: true });

  it.each(EDGES)('$name: the rebuild counts the window’s rows only, and the counter resets at its end', async (edge) => {
    const start = Date.parse(edge.start);
    const end = Date.parse(edge.end);
    const org = `c${Math.random().toString(36).slice(2, 10)}`;
    const limit = edge.unit === 'day' ? 'daily_cap: 20' : 'monthly_budget: 20';
    const policy = load(`
server: {timezone: ${edge.timezone}}
providers: {demo: {type: mock}}
organizations: {${org}: {${limit}}}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys: [{id: u1, key: tg-u1, user: u1, organization: ${org}}]
`);
    const row = (ts: number, tokens: number): LedgerRow =>
      sampleRow({ ts, organization: org, keyId: 'u1', user: 'u1', project: null, groups: [], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', endpoint: 'chat', decision: 'admitted', inputTokens: tokens, outputTokens: 0 });
    await ledger().append([row(start - 1, 100), row(start, 10), row(Math.floor((start + end) / 2), 1)]);

    const clock = new ManualClock(end - 1);
    const store = await factory(clock, edge.timezone);
    const principal = { keyId: 'u1', organization: org, user: 'u1', groups: [] };
    const target = new RouteTable(policy).resolve(principal, 'gpt-4o', 'chat')!;
    const items = new ApplicableLimits(policy).for(principal, target).map((l) => l.item);
    expect(items).toHaveLength(1);

    const report = await rebuildCounters(ledger(), policy, store, () => clock.now(), true);
    expect(report.limits).toBe(1);
    expect((await store.peek(items))[0]).toMatchObject({ used: 11, max: 20, resetAtMs: end });

    const reserve = (id: string, amount: number) => store.reserve({ id, items, input: amount, output: 0, clamp: false, minOutput: 1 });
    const refused = await reserve('a', 10);
    expect(refused.ok).toBe(false);
    expect(refused.states[0]).toMatchObject({ used: 11, resetAtMs: end });
    clock.set(end);
    const next = await reserve('b', 20);
    expect(next.ok, 'a fresh window at its end').toBe(true);
  });
});
