// The counter rebuild's "calls left out" (skippedCalls, logged at start-up and printed by `tollgate
// audit`): the calls a money limit can no longer price, whose usage is therefore missing from the
// counters. It counted every row of such a model, blocked calls and refunded failures too, which had
// nothing to count: 3 calls whose usage was left out read as 7. Rows that had usage count: served calls
// (a request), and failed calls charged tokens; blocked and refunded rows do not.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { ManualClock } from '../src/util/clock.js';
import { load } from './helpers/config-texts.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';

const NOW = Date.UTC(2026, 10, 18, 18, 30);

// A money limit over the organization; the ledger's `retired` model is no longer configured, and has no price.
const policy = load(`
organization: {monthly_budget: {max_cost_usd: 1000}}
pricing: {demo/gpt-4o: {input: 2.5, output: 10}}
providers:
  demo: {type: mock}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
keys:
  - {id: bob, key: tg-bob, user: bob}
`);

const row = (over: Partial<LedgerRow>): LedgerRow =>
  sampleRow({ ts: NOW - 60_000, organization: 'default', project: null, user: 'bob', keyId: 'bob', groups: [], route: 'main', modelId: 'retired', provider: 'demo', model: 'retired', ...over });
const NOTHING = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, costUsd: 0, inputCostUsd: 0, usageSource: 'none' } as const;

describe.each(LEDGER_KINDS)('the counter rebuild on $kind', ({ place: makePlace }) => {
  it('counts among the calls left out only those that had usage to count', async () => {
    const place = await makePlace();
    const ledger = await openLedger(place.url);
    try {
      await ledger.append([
        // Left out with their usage: two served calls and a failed stream charged what it produced.
        row({ decision: 'admitted' }),
        row({ decision: 'clamped' }),
        row({ decision: 'failed', status: 502, streamEnd: 'upstream_failed', inputTokens: 40, outputTokens: 5 }),
        // Nothing to count: blocked calls, and failed calls refunded (an error answer).
        row({ decision: 'blocked', status: 429, ...NOTHING }),
        row({ decision: 'blocked', status: 429, ...NOTHING }),
        row({ decision: 'failed', status: 503, streamEnd: null, ...NOTHING }),
        row({ decision: 'failed', status: 502, streamEnd: null, ...NOTHING }),
        // A priced model's call: counted, not left out.
        row({ modelId: 'gpt-4o', model: 'gpt-4o' }),
      ]);
      const report = await rebuildCounters(ledger, policy, new MemoryCounterStore(new ManualClock(NOW), 'UTC'), () => NOW);
      expect(report).toMatchObject({ skippedCalls: 3, skippedKeys: ['bob'] });
      expect(report.limits).toBeGreaterThan(0);
    } finally {
      await ledger.close();
      await place.drop();
    }
  });
});
