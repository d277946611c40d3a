// The counter rebuild on a ledger of millions of rows. It collected every grouped sum (a group per
// (key, route, model) and time slot) and every token-bucket call into arrays, and resolved each
// (key, route, model) to limit objects of its own: 1.0 GB peak at start on 3M rows late in a month, past a
// 512 MB container. It now reads the ledger one group and one call at a time (eachGroup, eachEvent),
// folding each into its counters, and combinations that share a counter share its limit object. The
// figures are the same, on both ledgers, for every kind of limit.
import { describe, expect, it } from 'vitest';
import { LedgerCombos } from '../src/ledger/ledger-combos.js';
import type { Ledger, LedgerRow } from '../src/ledger/ledger.js';
import { ledgerUsageByLimit } from '../src/ledger/limit-usage.js';
import { load } from './helpers/config-texts.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

// 10:30 UTC: the hour started 30 minutes ago, the minute's 3 s slots line up with it.
const NOW = Date.UTC(2026, 10, 18, 10, 30, 0);

const policy = load(`
organizations:
  acme: {monthly_budget: {max_cost_usd: 100}, daily_cap: 100000}
providers:
  demo: {type: mock}
pricing:
  "demo/cheap": {input: 1.00, output: 2.00}
  "demo/dear": {input: 10.00, output: 20.00}
users:
  tier_t: {rate_limit: 100}
routes:
  main:
    chat_models:
      - {model_id: cheap, model: demo/cheap}
      - {model_id: dear, model: demo/dear}
    token_limiting:
      scope: user
      input: {algorithm: fixed_window, window_size: 1 hour, max_token: 100000}
      output: {algorithm: token_bucket, window_size: 1 hour, max_token: 36}
keys:
  - {id: bob, key: tg-bob, user: bob, organization: acme, tier: tier_t}
  - {id: ann, key: tg-ann, user: ann, organization: acme, tier: tier_t}
`);

const PRICES = { cheap: [1, 2], dear: [10, 20] } as const;

function call(keyId: string, modelId: 'cheap' | 'dear', secondsAgo: number, input: number, output: number, over: Partial<LedgerRow> = {}): LedgerRow {
  const [inPrice, outPrice] = PRICES[modelId];
  const inputCostUsd = (input * inPrice) / 1e6;
  return sampleRow({
    ts: NOW - secondsAgo * 1000, organization: 'acme', keyId, user: keyId, project: null, groups: [], route: 'main', modelId, provider: 'demo', model: modelId,
    decision: 'admitted', inputTokens: input, outputTokens: output, costUsd: inputCostUsd + (output * outPrice) / 1e6, inputCostUsd, ...over,
  });
}

const ROWS = [
  call('bob', 'cheap', 50, 100, 10),
  call('bob', 'dear', 20 * 60, 200, 20),
  call('ann', 'cheap', 10, 300, 30),
  // Earlier today, and a legacy row without the cost split: money limits weigh its tokens by price (12,000 µUSD).
  call('bob', 'dear', 5 * 3600, 1000, 100, { inputCostUsd: null }),
  // Earlier this month.
  call('ann', 'dear', 3 * 86_400, 50, 5),
  // Refused: a call, but no usage and no request served.
  call('bob', 'cheap', 20, 0, 0, { decision: 'blocked', status: 429, costUsd: 0, inputCostUsd: 0 }),
];

describe.each(LEDGER_KINDS)('the counter rebuild reads the ledger a group and a call at a time: $kind', ({ place: makePlace }) => {
  const { ledger } = useLedger({
    place: makePlace,
    seed: (l) => l.append(ROWS),
  });

  it('never collects the groups or calls, and gets the same figures for every kind of limit', async () => {
    const collecting = (name: string) => () => Promise.reject(new Error(`the rebuild collected the ledger's ${name}`));
    const streamingOnly: Ledger = Object.create(ledger(), { summarize: { value: collecting('groups') }, events: { value: collecting('events') } });
    const usage = await ledgerUsageByLimit(streamingOnly, policy, NOW);
    const byId = Object.fromEntries(usage.limits.map((l) => [l.limit.id, l.used]));
    expect(byId).toEqual({
      // µUSD billed this month: 120 + 2,400 + 360 + 12,000 (legacy, by price) + 600.
      'org:acme:monthly': 15_480,
      // Tokens today: 110 + 220 + 330 + 1,100.
      'org:acme:daily': 1_760,
      'user:bob:rate': 1,
      'user:ann:rate': 1,
      'route:main:key:bob:input': 300,
      'route:main:key:ann:input': 300,
      // Replayed with its drain of 36 per hour (0.01 per second): 20 - 11.5 + 10, then 0.5 more drained.
      'route:main:key:bob:output': expect.closeTo(18, 9),
      'route:main:key:ann:output': expect.closeTo(29.9, 9),
    });
    // The per-minute rate limits are restored slot by slot (the refused call's slot holds no request).
    const rate = usage.limits.find((l) => l.limit.id === 'user:bob:rate')!;
    expect(rate.slots).toEqual([{ atMs: NOW - 51_000, used: 1 }, { atMs: NOW - 21_000, used: 0 }]);
    expect(usage.callers).toHaveLength(4);
    expect(usage.skippedCalls).toBe(0);
  });
});

describe('resolving the ledger combinations', () => {
  it('gives combinations that share a counter one object for it (money limits: one per price)', () => {
    const combos = new LedgerCombos(policy);
    const recorded = (keyId: string, modelId: string) =>
      ({ organization: 'acme', project: null, user: keyId, keyId, groups: [], route: 'main', modelId, endpoint: 'chat', provider: 'demo', model: modelId });
    const cheap = combos.resolve(recorded('bob', 'cheap'))!;
    const dear = combos.resolve(recorded('bob', 'dear'))!;
    const ann = combos.resolve(recorded('ann', 'cheap'))!;
    const byId = (limits: typeof cheap.limits, id: string) => limits.find((l) => l.id === id)!;
    expect(byId(dear.limits, 'org:acme:daily')).toBe(byId(cheap.limits, 'org:acme:daily'));
    expect(byId(ann.limits, 'org:acme:daily')).toBe(byId(cheap.limits, 'org:acme:daily'));
    expect(byId(dear.limits, 'route:main:key:bob:input')).toBe(byId(cheap.limits, 'route:main:key:bob:input'));
    expect(byId(ann.limits, 'org:acme:monthly')).toBe(byId(cheap.limits, 'org:acme:monthly'));
    expect(byId(dear.limits, 'org:acme:monthly')).not.toBe(byId(cheap.limits, 'org:acme:monthly'));
    expect(byId(dear.limits, 'org:acme:monthly').item.weights).toEqual({ input: 10, output: 20, request: 0 });
    // A key or model no longer configured still counts where its rows were recorded (rebuild-recorded-owner.test.ts).
    expect(combos.resolve(recorded('gone', 'cheap'))).toMatchObject({ configured: false });
    expect(combos.resolve(recorded('gone', 'cheap'))!.limits.map((l) => l.id)).toContain('org:acme:daily');
    // A model with no price left: a money limit has nothing to weigh its rows with.
    expect(combos.resolve(recorded('bob', 'retired-model'))).toBeUndefined();
  });
});
