// Report queries at scale: both ledgers return exactly the sums of their rows for every kind of query
// (context names, a call's own columns, tags, time buckets, filters, legacy rows without the cost split),
// the SQLite ledger sums calls by context before naming them (not one join per call), and the counter
// rebuild reads each period of the ledger once.
import { describe, expect, it, vi } from 'vitest';
import Database from 'better-sqlite3';
import type { Dimension, Ledger, LedgerRow, UsageGroup, UsageQuery } from '../src/ledger/ledger.js';
import { ledgerUsageByLimit } from '../src/ledger/limit-usage.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { load } from './helpers/config-texts.js';
import { LEDGER_KINDS, sqlitePlace } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const NOW = Date.UTC(2026, 10, 18, 18, 30);
const HOUR = 3_600_000;

/** 600 calls over three days: 3 organizations, projects (one none), users, keys, models, endpoints, outcomes, usage sources, tags. */
function seedRows(): LedgerRow[] {
  const decisions = ['admitted', 'clamped', 'blocked', 'failed'] as const;
  return Array.from({ length: 600 }, (_, i) => {
    const u = (i * 7) % 23;
    const org = ['acme', 'globex', 'initech'][u % 3];
    const embedding = i % 11 === 0;
    const legacy = i % 13 === 0;
    const input = (i * 37) % 900;
    const output = embedding ? 0 : (i * 17) % 300;
    return sampleRow({
      ts: NOW - 72 * HOUR + i * 431_000,
      organization: org,
      project: u % 4 === 0 ? null : `${org}-p${u % 4}`,
      user: `u${u}`,
      keyId: `k${u}`,
      groups: [`g${u % 2}`],
      route: i % 5 === 0 ? 'cheap' : 'main',
      modelId: embedding ? 'embed' : `m${i % 3}`,
      provider: i % 2 === 0 ? 'openai' : 'anthropic',
      model: embedding ? 'embed-v1' : `model-${i % 3}`,
      endpoint: embedding ? 'embeddings' : 'chat',
      decision: decisions[i % 4],
      status: [200, 200, 429, 502][i % 4],
      tags: i % 3 === 0 ? { feature: `f${i % 4}` } : {},
      inputTokens: input,
      outputTokens: output,
      cachedInputTokens: Math.floor(input / 3),
      cacheWriteInputTokens: i % 7,
      costUsd: input * 1e-6 + output * 3e-6,
      inputCostUsd: legacy ? null : input * 1e-6,
      usageSource: i % 9 < 5 ? 'provider' : i % 9 < 8 ? 'estimated' : 'none',
    });
  });
}

const QUERIES: UsageQuery[] = [
  { groupBy: [] },
  { groupBy: ['key', 'route', 'model_id', 'endpoint'], sinceMs: NOW - 30 * HOUR },
  { groupBy: ['project', 'model'], sinceMs: NOW - 48 * HOUR, untilMs: NOW - 2 * HOUR },
  { groupBy: ['user'], where: { organization: 'acme' } },
  { groupBy: ['organization', 'provider', 'decision', 'status'] },
  { groupBy: ['tag:feature', 'project'], where: { organization: 'globex', route: 'main' } },
  { groupBy: ['key', 'route', 'model_id', 'endpoint', 'bucket'], bucketMs: 6 * HOUR, sinceMs: NOW - 40 * HOUR },
  { groupBy: ['bucket'], bucketMs: 900_000, where: { organization: 'initech' }, sinceMs: NOW - 24 * HOUR, untilMs: NOW + 1 },
  { groupBy: ['model'], where: { model: 'openai/model-1', user: 'u5' } },
  { groupBy: ['project', 'route', 'model_id', 'model'], where: { project: 'acme-p1' } },
  { groupBy: ['usage_source'] },
  { groupBy: ['organization', 'usage_source', 'model'], sinceMs: NOW - 50 * HOUR },
  { groupBy: ['usage_source', 'bucket'], bucketMs: 6 * HOUR, where: { organization: 'acme' } },
];

/** What a query must return, summed here from the rows themselves. */
function expected(rows: LedgerRow[], q: UsageQuery): Array<{ keys: Record<string, string | null>; sums: Record<string, number> }> {
  const value = (r: LedgerRow, d: Dimension): string | null => {
    switch (d) {
      case 'user': return r.user;
      case 'key': return r.keyId;
      case 'model': return `${r.provider}/${r.model}`;
      case 'model_id': return r.modelId;
      case 'status': return String(r.status);
      case 'usage_source': return r.usageSource;
      case 'bucket': return String(Math.floor(r.ts / q.bucketMs!) * q.bucketMs!);
      case 'organization': case 'project': case 'route': case 'provider': case 'endpoint': case 'decision': return r[d];
      default: return r.tags[d.slice(4)] ?? null;
    }
  };
  const filters: Record<string, (r: LedgerRow) => string | null> = {
    organization: (r) => r.organization, project: (r) => r.project, user: (r) => r.user, key: (r) => r.keyId,
    route: (r) => r.route, model: (r) => `${r.provider}/${r.model}`, provider: (r) => r.provider,
  };
  const groups = new Map<string, { keys: Record<string, string | null>; sums: Record<string, number> }>();
  for (const r of rows) {
    if (q.sinceMs !== undefined && r.ts < q.sinceMs) continue;
    if (q.untilMs !== undefined && r.ts >= q.untilMs) continue;
    if (Object.entries(q.where ?? {}).some(([f, v]) => filters[f](r) !== v)) continue;
    const keys = Object.fromEntries(q.groupBy.map((d) => [d, value(r, d)]));
    const id = JSON.stringify(keys);
    const g = groups.get(id) ?? { keys, sums: {} };
    groups.set(id, g);
    const served = r.decision === 'admitted' || r.decision === 'clamped';
    const add = (k: string, v: number): void => void (g.sums[k] = (g.sums[k] ?? 0) + v);
    add('calls', 1);
    add('served', served ? 1 : 0);
    add('blocked', r.decision === 'blocked' ? 1 : 0);
    add('failed', r.decision === 'failed' ? 1 : 0);
    add('inputTokens', r.inputTokens);
    add('outputTokens', r.outputTokens);
    add('cachedInputTokens', r.cachedInputTokens);
    add('cacheWriteInputTokens', r.cacheWriteInputTokens);
    add('costUsd', r.costUsd);
    add('inputCostUsd', r.inputCostUsd ?? 0);
    add('outputCostUsd', r.inputCostUsd === null ? 0 : r.costUsd - r.inputCostUsd);
    add('legacyInputTokens', r.inputCostUsd === null ? r.inputTokens : 0);
    add('legacyOutputTokens', r.inputCostUsd === null ? r.outputTokens : 0);
    add('estimatedTokens', r.usageSource === 'estimated' ? r.inputTokens + r.outputTokens : 0);
  }
  return [...groups.values()];
}

function comparable(groups: UsageGroup[]): Map<string, UsageGroup> {
  return new Map(groups.map((g) => [JSON.stringify(g.keys), g]));
}

describe.each(LEDGER_KINDS)('summarize on a $kind ledger', ({ place: makePlace }) => {
  const rows = seedRows();

  const { ledger } = useLedger({
    place: makePlace,
    seed: (l) => l.append(rows),
  });

  it.each(QUERIES.map((q) => [JSON.stringify(q), q] as const))('returns the sums of the rows for %s', async (_, q) => {
    const got = comparable(await ledger().summarize(q));
    const want = expected(rows, q);
    expect(want.length).toBeGreaterThan(0);
    expect([...got.keys()].sort()).toEqual(want.map((g) => JSON.stringify(Object.fromEntries(q.groupBy.map((d) => [d, g.keys[d]])))).sort());
    for (const w of want) {
      const g = got.get(JSON.stringify(w.keys))!;
      for (const [k, v] of Object.entries(w.sums)) {
        if (k.endsWith('Usd')) expect(g[k as keyof UsageGroup] as number, k).toBeCloseTo(v, 12);
        else expect(g[k as keyof UsageGroup], k).toBe(v);
      }
    }
  });
});

const CONTEXT_NAMES: Dimension[] = ['organization', 'project', 'user', 'key', 'route', 'model', 'model_id', 'provider', 'endpoint'];

describe('the SQLite ledger report query', () => {
  it('sums the calls by context before naming them, and joins no context when it names none', async () => {
    const place = sqlitePlace();
    const writer = await openLedger(place.url);
    await writer.append(seedRows());
    await writer.close();
    const ledger = await openLedger(place.url, { readonly: true });
    const db = new Database(place.url.slice('sqlite:'.length), { readonly: true });
    // The SQL the ledger runs, as it prepares it.
    const prepared: string[] = [];
    const prepare = Database.prototype.prepare;
    const spy = vi.spyOn(Database.prototype, 'prepare').mockImplementation(function (this: Database.Database, sql: string) {
      prepared.push(sql);
      return prepare.call(this, sql);
    });
    try {
      for (const q of QUERIES) {
        prepared.length = 0;
        await ledger.summarize(q);
        const sql = prepared.at(-1)!;
        const placeholders = sql.split('?').length - 1;
        const plan = prepare.call(db, `EXPLAIN QUERY PLAN ${sql}`).all(Array(placeholders).fill(null)) as Array<{ id: number; parent: number; detail: string }>;
        if (!q.groupBy.some((d) => CONTEXT_NAMES.includes(d))) {
          // Totals and days name no context: none is joined (a filter reads the contexts once, as a list).
          expect(plan.map((p) => p.detail).join(' | '), sql).not.toMatch(/USING INTEGER PRIMARY KEY/);
          continue;
        }
        // The calls are read and grouped inside the subquery `r`; the contexts are looked up once per
        // group it returns, outside it: no step of the subquery joins a call to its context.
        const subquery = plan.find((p) => /^(CO-ROUTINE|MATERIALIZE) r$/.test(p.detail));
        expect(subquery, sql).toBeDefined();
        const inside = new Set([subquery!.id]);
        for (const p of plan) if (inside.has(p.parent)) inside.add(p.id);
        const steps = plan.filter((p) => inside.has(p.id)).map((p) => p.detail).join(' | ');
        expect(steps).toMatch(/tollgate_calls/);
        expect(steps).not.toMatch(/USING INTEGER PRIMARY KEY/);
      }
    } finally {
      spy.mockRestore();
      db.close();
      await ledger.close();
      await place.drop();
    }
  });
});

describe('the counter rebuild', () => {
  const policy = load(`
organizations:
  acme: {monthly_budget: 10000000, daily_cap: 100000}
providers:
  demo: {type: mock}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
    token_limiting:
      scope: user
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 500}
keys:
  - {id: bob, key: tg-bob, user: bob, organization: acme}
`);

  it('reads each period of the ledger once (the month is the longest and the costliest)', async () => {
    const place = sqlitePlace();
    const ledger = await openLedger(place.url);
    try {
      await ledger.append([0, 1, 30, 24 * 60 + 5].map((minutesAgo) =>
        sampleRow({ ts: NOW - minutesAgo * 60_000, organization: 'acme', keyId: 'bob', user: 'bob', project: null, groups: [], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', inputTokens: 100, outputTokens: 10 }),
      ));
      const reads: string[] = [];
      const counting: Ledger = Object.create(ledger, {
        eachGroup: {
          value: (q: UsageQuery, visit: (g: UsageGroup) => void) => (reads.push(JSON.stringify({ since: q.sinceMs, by: q.groupBy, bucket: q.bucketMs })), ledger.eachGroup(q, visit)),
        },
      });
      const usage = await ledgerUsageByLimit(counting, policy, NOW);
      expect(reads.length).toBeGreaterThan(1);
      expect(new Set(reads).size).toBe(reads.length);
      // And the figures are the ledger's: the month holds all four calls, the day three, the hour three.
      const byId = Object.fromEntries(usage.limits.map((l) => [l.limit.id, l.used]));
      expect(byId).toEqual({ 'org:acme:monthly': 440, 'org:acme:daily': 330, 'route:main:key:bob:output': 30 });
    } finally {
      await ledger.close();
      await place.drop();
    }
  });
});
