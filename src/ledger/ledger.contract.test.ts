// One contract, two ledgers: every test body runs against SQLite and against the real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaVersionOf, VERSION_BEFORE_CACHE_WRITES, VERSION_BEFORE_INPUT_COST, VERSION_BEFORE_RESPONSE_ID, VERSION_BEFORE_AUDIO_TOKENS, VERSION_BEFORE_INFERENCE_GEO, VERSION_BEFORE_TOOL_FEES, writeLedgerAtVersion } from '../../test/helpers/ledger-at-version.js';
import { LEDGER_KINDS, type LedgerPlace } from '../../test/helpers/ledgers.js';
import { LedgerWriter } from './batch-writer.js';
import type { Ledger, LedgerRow, UsageGroup } from './ledger.js';
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from './migrations.js';
import { openLedger } from './open-ledger.js';
import { sampleRow, T0 } from '../../test/helpers/sample-row.js';

describe.each(LEDGER_KINDS)('ledger contract: $kind', ({ place: makePlace }) => {
  let place: LedgerPlace;
  let ledger: Ledger;

  beforeAll(async () => {
    place = await makePlace();
    // Two processes starting at once must not both try to create the schema.
    const [a, b] = await Promise.all([openLedger(place.url), openLedger(place.url)]);
    await b.close();
    ledger = a;
  });
  afterAll(async () => {
    await ledger?.close();
    await place?.drop();
  });

  it('migrates idempotently: opening an existing ledger again keeps its rows', async () => {
    const row = sampleRow({ ts: T0 - 1_000_000 });
    await ledger.append([row]);
    const again = await openLedger(place.url);
    expect((await again.rows({ requestIds: [row.requestId] })).length).toBe(1);
    await again.close();
  });

  it('stores every field of a row and reads it back unchanged', async () => {
    const streamed = sampleRow();
    const plain = sampleRow({
      stream: false, streamEnd: null, project: null, tags: {}, groups: [], decision: 'blocked', blockedBy: 'org:acme:daily', upstreamLatencyMs: null, fallback: 'model:gpt-4o-mini',
      usageSource: 'none', costUsd: 0, inputCostUsd: 0, toolFeesUsd: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: null, providerResponseId: null,
    });
    // Anthropic cache writes of both TTLs (the 1-hour part of a larger count) in fast mode and US-only, and OpenAI's cheaper tier.
    const cached = sampleRow({ provider: 'anthropic', inputTokens: 4_200, cachedInputTokens: 3_000, cacheWriteInputTokens: 1_000, cacheWrite1hInputTokens: 400, serviceTier: 'fast', inferenceGeo: 'us' });
    const flex = sampleRow({ cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: 'flex' });
    // Three web searches at $10 per 1,000, in cost_usd and input_cost_usd too.
    const searched = sampleRow({ provider: 'anthropic', costUsd: 0.030_62, inputCostUsd: 0.030_22, toolFeesUsd: 0.03 });
    // A spoken answer to audio (OpenAI's audio models): audio tokens among the input and the output.
    const spoken = sampleRow({ model: 'gpt-audio', inputTokens: 900, audioInputTokens: 700, outputTokens: 400, audioOutputTokens: 320 });
    await ledger.append([streamed, plain, cached, flex, searched, spoken]);
    const back = await ledger.rows({ requestIds: [streamed.requestId, plain.requestId, cached.requestId, flex.requestId, searched.requestId, spoken.requestId] });
    expect(back).toEqual(expect.arrayContaining([streamed, plain, cached, flex, searched, spoken]));
    expect(back).toHaveLength(6);
  });

  it('skips rows whose request id is already written, so a retried batch is harmless', async () => {
    const row = sampleRow();
    await ledger.append([row]);
    await ledger.append([row, { ...row, inputTokens: 999 }]);
    const back = await ledger.rows({ requestIds: [row.requestId] });
    expect(back.map((r) => r.inputTokens)).toEqual([120]);
  });

  it('records who made each conversation, keeps the first owner of an id, and keeps them across a reopen', async () => {
    const id = `conv_${Math.random().toString(36).slice(2)}`;
    await ledger.recordConversation(id, { organization: 'acme', project: 'web', provider: 'openai' }, T0);
    // A retried record, or another instance's, never hands the conversation to someone else.
    await ledger.recordConversation(id, { organization: 'rival', provider: 'azure' }, T0 + 1);
    await ledger.recordConversation(`${id}x`, { organization: 'acme', provider: 'openai' }, T0);
    const again = await openLedger(place.url);
    expect(await again.conversationOwner(id)).toEqual({ organization: 'acme', project: 'web', provider: 'openai' });
    expect(await again.conversationOwner(`${id}x`)).toEqual({ organization: 'acme', provider: 'openai' });
    expect(await again.conversationOwner('conv_never')).toBeUndefined();
    await again.close();
  });

  it('sums usage by any dimension, tag and time bucket, within a time range and filters', async () => {
    const base = T0 + 86_400_000 * 3; // a day of its own
    const rows = [
      sampleRow({ ts: base, project: 'a', model: 'gpt-4o', inputTokens: 10, outputTokens: 1, cachedInputTokens: 0, cacheWriteInputTokens: 4, costUsd: 1, inputCostUsd: 0.25, tags: { f: 'x' } }),
      sampleRow({ ts: base + 1000, project: 'a', model: 'gpt-4o', inputTokens: 20, outputTokens: 2, cachedInputTokens: 5, cacheWriteInputTokens: 6, costUsd: 2, inputCostUsd: 0.5, tags: { f: 'y' } }),
      // A legacy row (no cost split): its tokens are summed apart, for money limits to weigh by price.
      sampleRow({ ts: base + 2000, project: 'b', model: 'gpt-4o-mini', inputTokens: 40, outputTokens: 4, cachedInputTokens: 0, cacheWriteInputTokens: 8, costUsd: 4, inputCostUsd: null, decision: 'admitted', tags: { f: 'x' } }),
      sampleRow({ ts: base + 3000, project: 'b', model: 'gpt-4o-mini', inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteInputTokens: 0, costUsd: 0, inputCostUsd: 0, decision: 'blocked', status: 429 }),
      sampleRow({ ts: base + 3_600_000, project: 'b', model: 'gpt-4o-mini', inputTokens: 80, outputTokens: 8, cachedInputTokens: 0, cacheWriteInputTokens: 16, costUsd: 8, inputCostUsd: 2, decision: 'failed', status: 502 }),
    ];
    await ledger.append(rows);
    const range = { sinceMs: base, untilMs: base + 86_400_000 };

    const byProjectModel = await ledger.summarize({ ...range, groupBy: ['project', 'model'] });
    expect(byProjectModel).toEqual([
      {
        keys: { project: 'a', model: 'openai/gpt-4o' }, calls: 2, served: 2, blocked: 0, failed: 0, inputTokens: 30, outputTokens: 3, cachedInputTokens: 5, cacheWriteInputTokens: 10, costUsd: 3,
        inputCostUsd: 0.75, outputCostUsd: 2.25, legacyInputTokens: 0, legacyOutputTokens: 0, estimatedTokens: 0,
      },
      {
        keys: { project: 'b', model: 'openai/gpt-4o-mini' }, calls: 3, served: 1, blocked: 1, failed: 1, inputTokens: 120, outputTokens: 12, cachedInputTokens: 0, cacheWriteInputTokens: 24, costUsd: 12,
        inputCostUsd: 2, outputCostUsd: 6, legacyInputTokens: 40, legacyOutputTokens: 4, estimatedTokens: 0,
      },
    ]);

    const total = await ledger.summarize({ ...range, groupBy: [] });
    expect(total).toHaveLength(1);
    expect(total[0]).toMatchObject({ calls: 5, inputTokens: 150, outputTokens: 15, cacheWriteInputTokens: 34, costUsd: 15, inputCostUsd: 2.75, outputCostUsd: 8.25, legacyInputTokens: 40, legacyOutputTokens: 4 });

    const byTag = await ledger.summarize({ ...range, groupBy: ['tag:f'] });
    // Where NULL sorts differs between the databases; the groups do not.
    expect(byTag.map((g) => [g.keys['tag:f'], g.calls]).sort(byFirst)).toEqual([
      ['x', 2],
      ['y', 1],
      [null, 2],
    ]);

    const byStatus = await ledger.summarize({ ...range, groupBy: ['status'], where: { project: 'b' } });
    expect(byStatus.map((g) => [g.keys.status, g.calls])).toEqual([
      ['200', 1],
      ['429', 1],
      ['502', 1],
    ]);

    const hourly = await ledger.summarize({ ...range, groupBy: ['bucket'], bucketMs: 3_600_000 });
    expect(hourly.map((g) => [Number(g.keys.bucket), g.calls])).toEqual([
      [base, 4],
      [base + 3_600_000, 1],
    ]);

    expect(await ledger.summarize({ sinceMs: base + 86_400_000, groupBy: ['project'] })).toEqual([]);
    const byModelFilter = await ledger.summarize({ ...range, groupBy: ['key'], where: { model: 'openai/gpt-4o' } });
    expect(byModelFilter.map((g) => g.calls)).toEqual([2]);
  });

  it('sums usage by its source (provider, estimated, none), alone and with context dimensions, and counts the estimated tokens of every group', async () => {
    const base = T0 + 86_400_000 * 5; // a day of its own
    await ledger.append([
      sampleRow({ ts: base, project: 'a', usageSource: 'provider', inputTokens: 100, outputTokens: 10, costUsd: 1, inputCostUsd: 0.5 }),
      sampleRow({ ts: base + 1, project: 'a', usageSource: 'estimated', inputTokens: 200, outputTokens: 20, costUsd: 2, inputCostUsd: 1 }),
      sampleRow({ ts: base + 2, project: 'b', usageSource: 'estimated', inputTokens: 400, outputTokens: 40, costUsd: 4, inputCostUsd: 2, decision: 'failed', status: 502 }),
      sampleRow({ ts: base + 3, project: 'b', usageSource: 'provider', inputTokens: 800, outputTokens: 80, costUsd: 8, inputCostUsd: 4 }),
      sampleRow({ ts: base + 4, project: 'b', usageSource: 'none', inputTokens: 0, outputTokens: 0, costUsd: 0, inputCostUsd: 0, decision: 'blocked', status: 429 }),
    ]);
    const range = { sinceMs: base, untilMs: base + 86_400_000 };
    const figures = (groups: UsageGroup[]): unknown[] =>
      groups.map((g) => [g.keys, g.calls, g.served, g.blocked, g.failed, g.inputTokens, g.outputTokens, g.costUsd, g.estimatedTokens]);

    // A call's own column: no context named, so SQLite groups tollgate_calls alone.
    expect(figures(await ledger.summarize({ ...range, groupBy: ['usage_source'] }))).toEqual([
      [{ usage_source: 'estimated' }, 2, 1, 0, 1, 600, 60, 6, 660],
      [{ usage_source: 'none' }, 1, 0, 1, 0, 0, 0, 0, 0],
      [{ usage_source: 'provider' }, 2, 2, 0, 0, 900, 90, 9, 0],
    ]);
    // With a context's name: SQLite groups by context id and source first, then names the contexts.
    expect(figures(await ledger.summarize({ ...range, groupBy: ['project', 'usage_source'] }))).toEqual([
      [{ project: 'a', usage_source: 'estimated' }, 1, 1, 0, 0, 200, 20, 2, 220],
      [{ project: 'a', usage_source: 'provider' }, 1, 1, 0, 0, 100, 10, 1, 0],
      [{ project: 'b', usage_source: 'estimated' }, 1, 0, 0, 1, 400, 40, 4, 440],
      [{ project: 'b', usage_source: 'none' }, 1, 0, 1, 0, 0, 0, 0, 0],
      [{ project: 'b', usage_source: 'provider' }, 1, 1, 0, 0, 800, 80, 8, 0],
    ]);
    // Without the dimension, every group still says how many of its tokens were estimated.
    expect(figures(await ledger.summarize({ ...range, groupBy: ['project'] }))).toEqual([
      [{ project: 'a' }, 2, 2, 0, 0, 300, 30, 3, 220],
      [{ project: 'b' }, 3, 1, 1, 1, 1200, 120, 12, 440],
    ]);
    expect(figures(await ledger.summarize({ ...range, groupBy: [] }))).toEqual([[{}, 5, 3, 1, 1, 1500, 150, 15, 660]]);
    // Filters apply as with any dimension.
    expect(figures(await ledger.summarize({ ...range, groupBy: ['usage_source'], where: { project: 'a' } }))).toEqual([
      [{ usage_source: 'estimated' }, 1, 1, 0, 0, 200, 20, 2, 220],
      [{ usage_source: 'provider' }, 1, 1, 0, 0, 100, 10, 1, 0],
    ]);
  });

  it('lists served calls as usage events in time order, with their cost split when the row has it', async () => {
    const base = T0 + 86_400_000 * 10;
    await ledger.append([
      sampleRow({ ts: base + 5, inputTokens: 2, decision: 'admitted', costUsd: 1, inputCostUsd: 0.25 }),
      sampleRow({ ts: base + 1, inputTokens: 1, decision: 'clamped', costUsd: 0.5, inputCostUsd: null }),
      sampleRow({ ts: base + 3, inputTokens: 0, decision: 'blocked' }),
    ]);
    const events = await ledger.events(base);
    expect(events.map((e) => [e.ts - base, e.inputTokens, e.served, e.inputCostUsd, e.outputCostUsd])).toEqual([
      [1, 1, true, null, null],
      [5, 2, true, 0.25, 0.75],
    ]);
  });

  it("lists one organization's usage events when asked", async () => {
    const base = T0 + 86_400_000 * 11;
    await ledger.append([
      sampleRow({ ts: base + 1, inputTokens: 1, organization: 'acme' }),
      sampleRow({ ts: base + 2, inputTokens: 2, organization: 'globex' }),
      sampleRow({ ts: base + 3, inputTokens: 3, organization: 'acme' }),
    ]);
    expect((await ledger.events(base, 'acme')).map((e) => e.inputTokens)).toEqual([1, 3]);
    expect((await ledger.events(base, 'globex')).map((e) => e.inputTokens)).toEqual([2]);
    expect((await ledger.events(base)).map((e) => e.inputTokens)).toEqual([1, 2, 3]);
  });

  it('hands the same groups and events one at a time (eachGroup, eachEvent) as summarize and events return', async () => {
    const base = T0 + 86_400_000 * 12;
    await ledger.append([
      sampleRow({ ts: base + 1, inputTokens: 1, organization: 'acme', keyId: 'k1', modelId: 'gpt-4o' }),
      sampleRow({ ts: base + 2, inputTokens: 2, organization: 'globex', keyId: 'k2', modelId: 'gpt-4o', inputCostUsd: null }),
      sampleRow({ ts: base + 3_600_000, inputTokens: 3, organization: 'acme', keyId: 'k1', modelId: 'gpt-4o-mini', decision: 'blocked' }),
      sampleRow({ ts: base + 3_600_001, inputTokens: 4, organization: 'acme', keyId: 'k1', modelId: 'gpt-4o' }),
    ]);
    const queries = [
      { sinceMs: base, groupBy: ['key', 'route', 'model_id', 'endpoint'] },
      { sinceMs: base, groupBy: ['key', 'route', 'model_id', 'endpoint', 'bucket'], bucketMs: 3_600_000 },
      { sinceMs: base, groupBy: ['model_id'], where: { organization: 'acme' } },
      { sinceMs: base + 86_400_000, groupBy: [] },
    ] as const;
    for (const q of queries) {
      const seen: unknown[] = [];
      await ledger.eachGroup({ ...q, groupBy: [...q.groupBy] }, (g) => seen.push(g));
      expect(seen).toEqual(await ledger.summarize({ ...q, groupBy: [...q.groupBy] }));
    }
    for (const organization of [undefined, 'acme', 'globex']) {
      const seen: unknown[] = [];
      await ledger.eachEvent(base, organization, (e) => seen.push(e));
      expect(seen).toEqual(await ledger.events(base, organization));
      expect(seen.length).toBeGreaterThan(0);
    }
  });

  it('batched writer: rows arrive within the flush interval, full batches go at once, flush writes the rest', async () => {
    const writer = new LedgerWriter(ledger, { flushIntervalMs: 50, batchSize: 100, maxBufferedRows: 10_000 });
    const base = T0 + 86_400_000 * 20;
    const rows = Array.from({ length: 250 }, (_, i) => sampleRow({ ts: base + i }));
    for (const r of rows) writer.push(r);
    // Two full batches are already under way; the last 50 wait for the interval, and arrive without a close.
    // Polled, not read once after 150 ms: with three test files at once on two cores, SQLite's writer thread
    // had written the first batch only by then (CI, 12-07).
    await expect.poll(async () => (await ledger.summarize({ sinceMs: base, groupBy: [] }))[0]?.calls, { timeout: 5000, interval: 25 }).toBe(250);
    for (let i = 0; i < 7; i++) writer.push(sampleRow({ ts: base + 1000 + i }));
    await writer.close();
    expect((await ledger.summarize({ sinceMs: base, groupBy: [] }))[0].calls).toBe(257);
    expect(writer.stats()).toMatchObject({ pending: 0, lagMs: 0, written: 257, failures: 0, dropped: 0 });
  });

  it('strict writes: each call resolves once its row is committed, concurrent calls share commits', async () => {
    const writer = new LedgerWriter(ledger, { flushIntervalMs: 10_000, batchSize: 1000, maxBufferedRows: 10_000 });
    const base = T0 + 86_400_000 * 30;
    const rows = Array.from({ length: 200 }, (_, i) => sampleRow({ ts: base + i }));
    let commits = 0;
    const counting = beforeEachWrite(ledger, () => commits++);
    const strict = new LedgerWriter(counting, { flushIntervalMs: 10_000, batchSize: 1000, maxBufferedRows: 10_000 });
    await Promise.all(rows.map(async (r) => {
      await strict.writeNow(r);
      // Committed when the promise resolves: the row is readable right away.
      expect((await ledger.rows({ requestIds: [r.requestId] })).length).toBe(1);
    }));
    expect(commits).toBeLessThan(20);
    await strict.close();
    await writer.close();
  });

  it('keeps rows through failed writes and retries them; drops the oldest beyond the buffer bound', async () => {
    let fail = 2;
    const flaky = beforeEachWrite(ledger, () => {
      if (fail-- > 0) throw new Error('database is down');
    });
    const errors: string[] = [];
    const writer = new LedgerWriter(flaky, { flushIntervalMs: 20, batchSize: 1000, maxBufferedRows: 5, onError: (e) => errors.push(e.message) });
    const base = T0 + 86_400_000 * 40;
    for (let i = 0; i < 8; i++) writer.push(sampleRow({ ts: base + i, inputTokens: i }));
    expect(writer.stats()).toMatchObject({ dropped: 3, pending: 5 });
    await new Promise((r) => setTimeout(r, 400));
    expect(errors).toEqual(['database is down', 'database is down']);
    await writer.close();
    const back = await ledger.rows({ sinceMs: base, untilMs: base + 100 });
    expect(back.map((r) => r.inputTokens)).toEqual([3, 4, 5, 6, 7]);
  });
});

describe.each(LEDGER_KINDS)('ledger migration to the input-cost split: $kind', ({ kind, place: makePlace }) => {
  let place: LedgerPlace | undefined;
  afterAll(async () => {
    await place?.drop();
  });

  it('keeps the rows written before it (legacy: no input cost), accepts new ones, and sums the two kinds apart', async () => {
    place = await makePlace();
    const base = T0 + 86_400_000 * 50;
    const legacy = [
      sampleRow({ ts: base, requestId: 'old-1', inputTokens: 100, outputTokens: 10, costUsd: 0.5 }),
      sampleRow({ ts: base + 1, requestId: 'old-2', project: null, tags: {}, inputTokens: 200, outputTokens: 20, costUsd: 1, decision: 'admitted' }),
    ];
    await writeLedgerAtVersion(place, VERSION_BEFORE_INPUT_COST[kind], legacy);
    expect(await schemaVersionOf(place)).toBe(VERSION_BEFORE_INPUT_COST[kind]);
    // A report (read-only: it never migrates) names the version gap instead of failing on a missing column.
    await expect(openLedger(place.url, { readonly: true })).rejects.toThrow(/schema is at version \d+ and this tollgate reads version \d+: run this version's `tollgate serve` on it once/);

    const ledger = await openLedger(place.url);
    try {
      expect(await schemaVersionOf(place)).toBe((kind === 'sqlite' ? SQLITE_MIGRATIONS : POSTGRES_MIGRATIONS).length);
      // Through the cache-write columns too: none recorded, standard tier.
      const kept = legacy.map((r) => ({ ...r, inputCostUsd: null, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: null, providerResponseId: null }));
      expect(await ledger.rows({})).toEqual(kept);
      const fresh = [sampleRow({ ts: base + 2, requestId: 'new-1', inputTokens: 300, outputTokens: 30, costUsd: 2, inputCostUsd: 1.5 })];
      await ledger.append(fresh);
      expect(await ledger.rows({})).toEqual([...kept, ...fresh]);
      const [total] = await ledger.summarize({ sinceMs: base, groupBy: [] });
      expect(total).toMatchObject({ calls: 3, inputTokens: 600, outputTokens: 60, costUsd: 3.5, inputCostUsd: 1.5, outputCostUsd: 0.5, legacyInputTokens: 300, legacyOutputTokens: 30 });
      expect((await ledger.events(base)).map((e) => [e.inputTokens, e.inputCostUsd, e.outputCostUsd])).toEqual([
        [100, null, null],
        [200, null, null],
        [300, 1.5, 0.5],
      ]);
    } finally {
      await ledger.close();
    }
  });
});

describe.each(LEDGER_KINDS)('ledger migration to the cache-write and service-tier columns: $kind', ({ kind, place: makePlace }) => {
  let place: LedgerPlace | undefined;
  afterAll(async () => {
    await place?.drop();
  });

  it('keeps the rows written before it (no cache writes, standard tier), accepts new ones, and sums their cache writes', async () => {
    place = await makePlace();
    const base = T0 + 86_400_000 * 60;
    const before = [
      sampleRow({ ts: base, requestId: 'v-old-1', inputTokens: 4_200, cachedInputTokens: 3_000, outputTokens: 100, costUsd: 0.007_65, inputCostUsd: 0.006_15 }),
      sampleRow({ ts: base + 1, requestId: 'v-old-2', project: null, tags: {}, inputTokens: 200, outputTokens: 20, costUsd: 1, inputCostUsd: null, decision: 'admitted' }),
    ];
    await writeLedgerAtVersion(place, VERSION_BEFORE_CACHE_WRITES[kind], before);
    expect(await schemaVersionOf(place)).toBe(VERSION_BEFORE_CACHE_WRITES[kind]);
    // A report (read-only: it never migrates) names the version gap instead of failing on a missing column.
    await expect(openLedger(place.url, { readonly: true })).rejects.toThrow(/schema is at version \d+ and this tollgate reads version \d+/);

    const ledger = await openLedger(place.url);
    try {
      expect(await schemaVersionOf(place)).toBe((kind === 'sqlite' ? SQLITE_MIGRATIONS : POSTGRES_MIGRATIONS).length);
      const kept = before.map((r) => ({ ...r, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: null, providerResponseId: null }));
      expect(await ledger.rows({})).toEqual(kept);
      const fresh = [
        sampleRow({ ts: base + 2, requestId: 'v-new-1', inputTokens: 4_200, cachedInputTokens: 3_000, cacheWriteInputTokens: 1_000, cacheWrite1hInputTokens: 250, serviceTier: null }),
        sampleRow({ ts: base + 3, requestId: 'v-new-2', cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: 'priority' }),
      ];
      await ledger.append(fresh);
      expect(await ledger.rows({})).toEqual([...kept, ...fresh]);
      const [total] = await ledger.summarize({ sinceMs: base, groupBy: [] });
      expect(total).toMatchObject({ calls: 4, inputTokens: 4_200 + 200 + 4_200 + 120, cachedInputTokens: 3_000 + 64 + 3_000 + 64, cacheWriteInputTokens: 1_000 });
      // The input-cost split of version 3 (SQLite) / 2 (PostgreSQL) is untouched.
      expect(total.legacyInputTokens).toBe(200);
    } finally {
      await ledger.close();
    }
  });
});

/** The ledger with `before` run ahead of every batch write, whichever path the writer takes (packed or not). */
function beforeEachWrite(ledger: Ledger, before: () => void): Ledger {
  const wrapped = Object.create(ledger) as Ledger;
  wrapped.append = async (rows) => {
    before();
    await ledger.append(rows);
  };
  if (ledger.appendPacked) {
    wrapped.appendPacked = async (json) => {
      before();
      await ledger.appendPacked!(json);
    };
  }
  return wrapped;
}

function byFirst(a: Array<string | number | null>, b: Array<string | number | null>): number {
  const [x, y] = [String(a[0] ?? '\uffff'), String(b[0] ?? '\uffff')];
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The migrations that add a column and nothing else: rows written before keep reading back, with the
 * column's default, and new rows store it. `day` keeps each case's rows apart.
 */
const COLUMN_MIGRATIONS: Array<{
  column: string;
  versionBefore: { sqlite: number; postgres: number };
  day: number;
  before: LedgerRow[];
  kept: Partial<LedgerRow>;
  fresh: (base: number) => LedgerRow[];
}> = [
  {
    column: 'the provider response id',
    versionBefore: VERSION_BEFORE_RESPONSE_ID,
    day: 70,
    before: [sampleRow({ requestId: 'r-old-1', endpoint: 'responses' }), sampleRow({ requestId: 'r-old-2', project: null })],
    kept: { providerResponseId: null },
    fresh: (base) => [
      sampleRow({ ts: base + 2, requestId: 'r-new-1', endpoint: 'responses', providerResponseId: 'resp_0123456789abcdef' }),
      sampleRow({ ts: base + 3, requestId: 'r-new-2', endpoint: 'chat', providerResponseId: null }),
    ],
  },
  {
    column: 'the tool fees',
    versionBefore: VERSION_BEFORE_TOOL_FEES,
    day: 90,
    before: [sampleRow({ requestId: 'f-old-1', costUsd: 0.000_62, inputCostUsd: 0.000_22 })],
    kept: { toolFeesUsd: 0 },
    fresh: (base) => [sampleRow({ ts: base + 2, requestId: 'f-new-1', costUsd: 0.020_62, inputCostUsd: 0.020_22, toolFeesUsd: 0.02 })],
  },
  {
    column: 'the inference geo',
    versionBefore: VERSION_BEFORE_INFERENCE_GEO,
    day: 91,
    before: [sampleRow({ requestId: 'g-old-1', provider: 'anthropic' })],
    kept: { inferenceGeo: null },
    fresh: (base) => [sampleRow({ ts: base + 2, requestId: 'g-new-1', provider: 'anthropic', inferenceGeo: 'us' }), sampleRow({ ts: base + 3, requestId: 'g-new-2', inferenceGeo: null })],
  },
  {
    column: 'the audio tokens',
    versionBefore: VERSION_BEFORE_AUDIO_TOKENS,
    day: 92,
    before: [sampleRow({ requestId: 'a-old-1', model: 'gpt-audio' })],
    kept: { audioInputTokens: 0, audioOutputTokens: 0 },
    fresh: (base) => [sampleRow({ ts: base + 2, requestId: 'a-new-1', model: 'gpt-audio', audioInputTokens: 21, audioOutputTokens: 8 })],
  },
];

describe.each(LEDGER_KINDS)('ledger migrations that add a column: $kind', ({ kind, place: makePlace }) => {
  it.each(COLUMN_MIGRATIONS)('to $column: the rows written before read back with its default, and new rows store it', async (m) => {
    const place = await makePlace();
    try {
      const base = T0 + 86_400_000 * m.day;
      const before = m.before.map((r, i) => ({ ...r, ts: base + i }));
      await writeLedgerAtVersion(place, m.versionBefore[kind], before);
      expect(await schemaVersionOf(place)).toBe(m.versionBefore[kind]);
      // A report (read-only: it never migrates) names the version gap instead of failing on a missing column.
      await expect(openLedger(place.url, { readonly: true })).rejects.toThrow(/schema is at version \d+ and this tollgate reads version \d+/);
      const ledger = await openLedger(place.url);
      try {
        expect(await schemaVersionOf(place)).toBe((kind === 'sqlite' ? SQLITE_MIGRATIONS : POSTGRES_MIGRATIONS).length);
        const kept = before.map((r) => ({ ...r, ...m.kept }));
        expect(await ledger.rows({})).toEqual(kept);
        const fresh = m.fresh(base);
        await ledger.append(fresh);
        expect(await ledger.rows({})).toEqual([...kept, ...fresh]);
      } finally {
        await ledger.close();
      }
    } finally {
      await place.drop();
    }
  });
});
