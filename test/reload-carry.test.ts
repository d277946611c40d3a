// What a call admitted under the configuration a reload replaced is carried into (src/ledger/reload-carry.ts):
// only the counts the new configuration made (another algorithm, a fixed window of another length, a limit
// added), each weighed as the rebuild weighs the call's row, and never refused.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { ReloadCarry } from '../src/ledger/reload-carry.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { ManualClock } from '../src/util/clock.js';
import { load } from './helpers/config-texts.js';
import { useMemoryAndRedisStores } from './helpers/memory-and-redis-stores.js';
import { sampleRow } from './helpers/sample-row.js';

const NOW = Date.UTC(2026, 10, 18, 10, 5, 0);

/** A config whose route `main` has `output` as its output limit (and `input`, given), and project web's `web` daily limit. */
const config = (output: string, web = '100000', input?: string) =>
  load(`
providers:
  demo: {type: mock}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
projects: {web: {daily_limit: ${web}}}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
    token_limiting:
      output: {${output}}${input ? `\n      input: {${input}}` : ''}
keys:
  - {id: k1, key: tg-k1, project: web}
`);

const FIXED_MINUTE = 'algorithm: fixed_window, window_size: 1 minute, max_token: 1000';

/** A served call of key k1 with 40 input and 100 output tokens that cost $0.0011 ($0.0001 of it input). */
const row = (over: Partial<LedgerRow> = {}): LedgerRow =>
  sampleRow({ ts: NOW, organization: 'default', keyId: 'k1', user: 'k1', project: 'web', groups: [], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', endpoint: 'chat', decision: 'admitted', inputTokens: 40, outputTokens: 100, costUsd: 0.0011, inputCostUsd: 0.0001, ...over });

type Policy = ReturnType<typeof config>;
const carried = (before: string | Policy, after: string | Policy, over: Partial<LedgerRow> = {}) => {
  const carry = new ReloadCarry(new MemoryCounterStore(new ManualClock(NOW), 'UTC'));
  const policy = (p: string | Policy): Policy => (typeof p === 'string' ? config(p) : p);
  return carry.itemsToCarry(row(over), policy(before), policy(after)).map((i) => ({ key: i.key, mode: i.mode, amount: i.weights.input }));
};

describe('what a reload carries', () => {
  it('nothing when the counts stay (a new max, or a sliding window or bucket made longer)', () => {
    expect(carried(FIXED_MINUTE, 'algorithm: fixed_window, window_size: 1 minute, max_token: 10')).toEqual([]);
    expect(carried('algorithm: sliding_window, window_size: 1 minute, max_token: 1000', 'algorithm: sliding_window, window_size: 1 hour, max_token: 1000')).toEqual([]);
    expect(carried('algorithm: token_bucket, window_size: 1 minute, max_token: 1000', 'algorithm: token_bucket, window_size: 1 hour, max_token: 1000')).toEqual([]);
    // The project's daily limit is in both: the call was charged to it already.
    expect(carried(FIXED_MINUTE, 'algorithm: sliding_window, window_size: 1 minute, max_token: 1000').map((c) => c.key)).toEqual(['tg:{default}:route:main:output:sliding_window']);
  });

  it('the call\'s output into a count under another algorithm or a fixed window of another length', () => {
    expect(carried(FIXED_MINUTE, 'algorithm: sliding_window, window_size: 1 minute, max_token: 1000')).toEqual([{ key: 'tg:{default}:route:main:output:sliding_window', mode: 'shadow', amount: 100 }]);
    expect(carried(FIXED_MINUTE, 'algorithm: fixed_window, window_size: 1 hour, max_token: 1000')).toEqual([{ key: 'tg:{default}:route:main:output:fixed_window', mode: 'shadow', amount: 100 }]);
  });

  it('a limit the reload added, and money at what the row was billed', () => {
    const input = 'algorithm: fixed_window, window_size: 1 minute, max_token: 1000';
    expect(carried(FIXED_MINUTE, config(FIXED_MINUTE, '100000', input))).toEqual([{ key: 'tg:{default}:route:main:input:fixed_window', mode: 'shadow', amount: 40 }]);
    // µUSD: the $0.002 the row was billed, not its tokens at the configured price ($0.0011).
    const money = carried(config(FIXED_MINUTE, '{max_cost_usd: 5}'), config(FIXED_MINUTE, '{max_cost_usd: 5, algorithm: sliding_window}'), { costUsd: 0.002, inputCostUsd: 0.0005 });
    expect(money.map((c) => c.key)).toEqual(['tg:{default}:project:web:daily:sliding_window']);
    expect(money[0].amount).toBeCloseTo(2000, 6);
  });

  it('nothing for a call that used nothing (refused)', () => {
    expect(carried(FIXED_MINUTE, 'algorithm: sliding_window, window_size: 1 minute, max_token: 1000', { decision: 'blocked', inputTokens: 0, outputTokens: 0, costUsd: 0, inputCostUsd: 0 })).toEqual([]);
  });
});

describe.each(useMemoryAndRedisStores())('a carry into a count already full (%s)', (_name, makeStore) => {
  it('is counted, not refused, and leaves no reservation open', async () => {
    const clock = new ManualClock(NOW);
    const store = await makeStore(clock, 'UTC');
    const next = config('algorithm: sliding_window, window_size: 1 minute, max_token: 1000');
    const carry = new ReloadCarry(store);
    const [target] = carry.itemsToCarry(row(), config(FIXED_MINUTE), next);
    // Another call under the new config took 950 of the 1,000.
    expect((await store.reserve({ id: 'n1', items: [{ ...target, mode: 'enforce', weights: { input: 0, output: 1, request: 0 } }], input: 0, output: 950, clamp: false, minOutput: 0 })).ok).toBe(true);
    await carry.carry(row({ requestId: 'old-1' }), config(FIXED_MINUTE), next);
    expect((await store.peek([target]))[0].used).toBe(1050);
    expect(await store.openReservations()).toBe(1);
    await store.settle('n1', { input: 0, output: 950, request: 1 });
    expect(await store.openReservations()).toBe(0);
  });
});
