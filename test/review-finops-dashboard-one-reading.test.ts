// One dashboard reply reads as one moment of the ledger. Its figures came from nine queries sent side by
// side, each seeing the rows written by then; on a busy gateway calls finish between them, so a reply
// could say today used more than this month, breakdowns that do not add up to the month, or a burn-rate
// bar for today that is not today's figure. Seen on PostgreSQL with 8 clients calling in a loop: 1 reply
// in 60 had today at 160,412 tokens and this_month at 159,964 (the breakdowns at 160,412, today's
// history bar at 159,964). Here a call's row is written before each of the dashboard's queries, as
// calls finishing during its reading would be; both ledgers. Today is now read in one query, whose groups
// give today, its history bar, and its part of the month and of every breakdown.
import { describe, expect, it } from 'vitest';
import { buildDashboard } from '../src/analytics/dashboard.js';
import { loadPolicyFromTexts } from '../src/config/load-policy.js';
import type { UsageQuery } from '../src/ledger/ledger.js';
import { PriceBook } from '../src/ledger/price-book.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const HOUR = 3_600_000;
// Thursday 10 December 2026, 15:00 UTC.
const NOW = Date.UTC(2026, 11, 10, 15);

const policyFor = (url: string) =>
  loadPolicyFromTexts([
    {
      file: 'tollgate.yaml',
      text: `
server: {timezone: UTC}
storage: {ledger: "${url}"}
providers: {demo: {type: mock}}
pricing: {"demo/gpt-4o": {input: 2.5, output: 10}}
organization: {daily_cap: 10000000, monthly_budget: 100000000}
projects:
  web: {daily_limit: 1000000}
routes: {main: {chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]}}
keys: [{id: alice-laptop, key: tg-a, user: alice, project: web}]
`,
    },
  ]);

let seq = 0;
/** One call of `tokens` input tokens by `user` at `ts`: organization default, project web. */
function call(ts: number, user: string, tokens: number) {
  return sampleRow({
    ts, requestId: `call-${seq++}`, organization: 'default', project: 'web', user, keyId: 'alice-laptop', provider: 'demo', model: 'gpt-4o', route: 'main', modelId: 'gpt-4o',
    decision: 'admitted', inputTokens: tokens, outputTokens: 0, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, costUsd: tokens * 2.5e-6, inputCostUsd: tokens * 2.5e-6,
  });
}

describe.each(LEDGER_KINDS)('dashboard figures from one reading of the ledger: $kind', ({ place: makePlace }) => {
  const { ledger, place } = useLedger({
    place: makePlace,
    seed: async (l) => {
      // Earlier this month and earlier today.
      await l.append([call(Date.UTC(2026, 11, 3, 10), 'alice', 1000), call(NOW - 2 * HOUR, 'bob', 100)]);
    },
    each: true,
  });

  it('agrees with itself while calls are written during its queries', async () => {
    // The queries run one after the other, as on a pool with fewer connections than queries, and a call
    // that started a minute ago ends, its row written, before each of them.
    const summarize = ledger().summarize.bind(ledger());
    let written = 0;
    ledger().summarize = async (q: UsageQuery) => {
      const turn = ++written;
      await new Promise((resolve) => setTimeout(resolve, turn * 5));
      await ledger().append([call(NOW - 60_000, turn % 2 ? 'carol' : 'dave', 10)]);
      return summarize(q);
    };
    const d = await buildDashboard(ledger(), policyFor(place().url), new PriceBook(new Map()), 'default', NOW);
    expect(written).toBeGreaterThan(0);

    const month = d.current_usage.this_month;
    const today = d.current_usage.today;
    // Today is part of the month, which has the 3rd's 1000 tokens besides.
    expect(month.tokens - today.tokens).toBe(1000);
    expect(month.requests - today.requests).toBe(1);
    // The breakdowns add up to the month.
    for (const list of ['by_project', 'by_model', 'by_user'] as const) {
      const entries = d.breakdown[list] as Array<{ tokens: number; requests: number; cost_usd: number }>;
      expect(entries.reduce((s, e) => s + e.tokens, 0), list).toBe(month.tokens);
      expect(entries.reduce((s, e) => s + e.requests, 0), list).toBe(month.requests);
      expect(Math.round(entries.reduce((s, e) => s + e.cost_usd, 0) * 1e9), list).toBe(Math.round(month.cost_usd * 1e9));
    }
    // Today's bar of the burn-rate chart is today's figure.
    expect(d.history.at(-1)).toMatchObject({ tokens: today.tokens, requests: today.requests });
    // The org's daily limit shows today's usage.
    expect(d.limits.daily!.used).toBe(today.tokens);
    expect(d.limits.monthly!.used).toBe(month.tokens);
  });
});
