// A restart on empty counters rebuilds sliding windows slot by slot from the ledger. The rebuilt usage
// leaves the window when the calls it stands for do, so `tollgate audit` finds no drift afterwards. Before,
// all of it went into the current slot: the per-minute rate limit drifted for a minute after every
// restart, and a day-long sliding window would have counted yesterday's calls until tomorrow. A store that
// kept its counters is raised by no more than its window's total is short: its slots can be one off the ledger's.
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { configuredLimits } from '../src/ledger/configured-limits.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { ManualClock } from '../src/util/clock.js';
import { load } from './helpers/config-texts.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

// 10:00 UTC: the minute's 3 s slots line up with it.
const NOW = Date.UTC(2026, 10, 18, 10, 0, 0);

const policy = load(`
providers:
  demo: {type: mock}
users:
  tier_t: {rate_limit: 100}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
    token_limiting:
      scope: user
      input: {algorithm: sliding_window, window_size: 1 day, max_token: 100000}
keys:
  - {id: u1, key: tg-u1, user: u1, tier: tier_t}
`);

const call = (secondsAgo: number, input: number): LedgerRow =>
  sampleRow({ ts: NOW - secondsAgo * 1000, organization: 'default', keyId: 'u1', user: 'u1', project: null, groups: [], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', inputTokens: input, outputTokens: 5 });

describe('rebuilding sliding windows from the ledger', () => {
  const { ledger } = useLedger({
    seed: async (l) => {
      // Two calls 50 s ago and one 10 s ago (in the rate limit's minute); one 20 hours ago (in the day only).
      await l.append([call(50, 100), call(50, 200), call(10, 40), call(20 * 3600, 7000)]);
    },
  });

  it('puts each slot back where it was: no drift while the old usage leaves the windows', async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryCounterStore(clock, 'UTC');
    await rebuildCounters(ledger(), policy, store, () => clock.now(), true);
    const audit = async (): Promise<Record<string, [number, number]>> => {
      const report = await auditCounters(ledger(), policy, store, () => clock.now());
      expect(report.drifting).toBe(0);
      return Object.fromEntries(report.lines.map((l) => [l.limit, [l.counter, l.ledger]]));
    };
    expect(await audit()).toEqual({ 'user:u1:rate': [3, 3], 'route:main:key:u1:input': [7340, 7340] });
    // 15 s on, the two calls from 50 s ago have left the minute (21 slots of 3 s are counted).
    clock.advance(15_000);
    expect(await audit()).toEqual({ 'user:u1:rate': [1, 1], 'route:main:key:u1:input': [7340, 7340] });
    // Five hours on, the call from 20 hours ago has left the day; the minute is empty.
    clock.advance(5 * 3600_000);
    expect(await audit()).toEqual({ 'user:u1:rate': [0, 0], 'route:main:key:u1:input': [340, 340] });
  });
});

describe('raising sliding windows a store kept', () => {
  // A call 5 ms before the minute's slot ends in the ledger, counted by the store 1 ms after it: its row is
  // in one slot, the store's count in the next (the soak's restarts on a Redis that kept its counters,
  // when rows carried the call's arrival rather than its admission; a budget lease's calls still may).
  const started = NOW - 5;
  const admitted = NOW + 1;
  const { ledger } = useLedger({ seed: async (l) => void (await l.append([{ ...call(0, 40), ts: started }])) });

  it('counts a call the store placed one slot later once, not in both slots', async () => {
    const clock = new ManualClock(admitted);
    const store = new MemoryCounterStore(clock, 'UTC');
    const items = configuredLimits(policy).map((c) => c.limit.item);
    expect(items).toHaveLength(2);
    const outcome = await store.reserve({ id: 'r1', items, input: 40, output: 5, clamp: false, minOutput: 0 });
    expect(outcome.ok).toBe(true);
    await store.settle('r1', { input: 40, output: 5, request: 1 });
    clock.advance(2_000);

    await rebuildCounters(ledger(), policy, store, () => clock.now(), false);
    const report = await auditCounters(ledger(), policy, store, () => clock.now());
    expect(Object.fromEntries(report.lines.map((l) => [l.limit, [l.counter, l.ledger]]))).toEqual({ 'user:u1:rate': [1, 1], 'route:main:key:u1:input': [40, 40] });
    expect(report.drifting).toBe(0);
  });

  it('still raises what the store is missing, in the slot the ledger has it in', async () => {
    const clock = new ManualClock(admitted + 2_000);
    const store = new MemoryCounterStore(clock, 'UTC');
    await rebuildCounters(ledger(), policy, store, () => clock.now(), false);
    const report = await auditCounters(ledger(), policy, store, () => clock.now());
    expect(Object.fromEntries(report.lines.map((l) => [l.limit, l.counter]))).toEqual({ 'user:u1:rate': 1, 'route:main:key:u1:input': 40 });
    // Its slot (NOW - 3 s to NOW) leaves the minute 60 s after NOW, as the call does.
    const rate = configuredLimits(policy).find((c) => c.limit.id === 'user:u1:rate')!.limit.item;
    clock.set(NOW + 59_999);
    expect((await store.peek([rate]))[0].used).toBe(1);
    clock.set(NOW + 60_000);
    expect((await store.peek([rate]))[0].used).toBe(0);
  });
});
