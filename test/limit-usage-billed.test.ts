// Money limits are rebuilt from what calls were billed. Settlement charges a money limit the call's real
// cost (prompt-cache reads cheaper, the priority tier dearer: PriceBook.costParts), so a counter rebuilt
// after a restart, and the audit's ledger figure, must add up the same costs. They weighed every row as
// tokens at the configured price: a cached or priority call rebuilt to another figure than it was charged.
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { ledgerUsageByLimit } from '../src/ledger/limit-usage.js';
import { PriceBook, type PricedUsage } from '../src/ledger/price-book.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { ManualClock } from '../src/util/clock.js';
import { load } from './helpers/config-texts.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const NOW = Date.UTC(2026, 10, 18, 18, 30);

// gpt-4.1 at 2 / 8 USD per million (µUSD per token): cache reads at 0.5, the priority tier at 3.5 / 14.
const policy = load(`
server: {timezone: UTC}
providers: {openai: {type: mock}}
pricing:
  "openai/gpt-4.1": {input: 2, output: 8}
organization: {daily_cap: {max_cost_usd: 100}, monthly_budget: 10000000}
routes:
  main:
    chat_models:
      - {model_id: gpt-4.1, model: openai/gpt-4.1}
    token_limiting:
      scope: user
      input: {algorithm: sliding_window, window_size: 1 hour, max_cost_usd: 10}
      output: {algorithm: token_bucket, window_size: 1 hour, max_cost_usd: 10}
keys:
  - {id: k, key: tg-k, user: u}
`);
const prices = new PriceBook(policy.pricing);

// At NOW, so the token bucket has not drained any of it yet.
const base = (over: Partial<LedgerRow>): LedgerRow =>
  sampleRow({ ts: NOW, organization: 'default', keyId: 'k', user: 'u', project: null, groups: [], route: 'main', modelId: 'gpt-4.1', provider: 'openai', model: 'gpt-4.1', decision: 'admitted', ...over });

/** A row as the gateway writes it: priced by the PriceBook, its cost split into input and output. */
function billed(usage: PricedUsage): LedgerRow {
  const parts = prices.costParts('openai', 'gpt-4.1', usage)!;
  return base({
    inputTokens: usage.input, outputTokens: usage.output, cachedInputTokens: usage.cachedInput, cacheWriteInputTokens: usage.cacheWriteInput ?? 0,
    cacheWrite1hInputTokens: usage.cacheWrite1hInput ?? 0, costUsd: (parts.input + parts.output) / 1e6, inputCostUsd: parts.input / 1e6, toolFeesUsd: 0, serviceTier: usage.serviceTier ?? null,
  });
}

describe('money limits rebuilt from the ledger', () => {
  const { ledger } = useLedger({
    seed: (l) => l.append([
      // Priority tier: 1000 × 3.5 = 3500 µUSD in, 100 × 14 = 1400 out.
      billed({ input: 1000, output: 100, cachedInput: 0, serviceTier: 'priority' }),
      // 1500 of 2000 input from the cache: 500 × 2 + 1500 × 0.5 = 1750 in, 200 × 8 = 1600 out.
      billed({ input: 2000, output: 200, cachedInput: 1500 }),
      // Written before the ledger split the cost: weighed by its tokens, 400 × 2 = 800 in, 50 × 8 = 400 out.
      base({ inputTokens: 400, outputTokens: 50, cachedInputTokens: 300, costUsd: 0.00095, inputCostUsd: null }),
    ]),
  });

  it('sums what the calls were billed, in µUSD, for each window algorithm; legacy rows and token limits by tokens', async () => {
    const usage = await ledgerUsageByLimit(ledger(), policy, NOW);
    const used = Object.fromEntries(usage.limits.map((l) => [l.limit.id, l.used]));
    // Tokens at the configured price would give 9600, 6800 and 2800.
    expect(used['org:default:daily']).toBeCloseTo(3500 + 1400 + 1750 + 1600 + 800 + 400, 6);
    expect(used['route:main:key:k:input']).toBeCloseTo(3500 + 1750 + 800, 6);
    expect(used['route:main:key:k:output']).toBeCloseTo(1400 + 1600 + 400, 6);
    expect(used['org:default:monthly']).toBe(1100 + 2200 + 450);
    const slots = usage.limits.find((l) => l.limit.id === 'route:main:key:k:input')!.slots!;
    expect(slots.reduce((s, x) => s + x.used, 0)).toBeCloseTo(6050, 6);
  });

  it('a counter store rebuilt from the ledger holds those costs and audits clean', async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryCounterStore(clock, 'UTC');
    await rebuildCounters(ledger(), policy, store, () => clock.now(), true);
    const report = await auditCounters(ledger(), policy, store, () => clock.now());
    expect(report.drifting).toBe(0);
    const counters = Object.fromEntries(report.lines.map((l) => [l.limit, l.counter]));
    expect(counters['org:default:daily']).toBeCloseTo(0.00945, 12);
    expect(counters['route:main:key:k:input']).toBeCloseTo(0.00605, 12);
    expect(counters['route:main:key:k:output']).toBeCloseTo(0.0034, 12);
  });
});
