// The dashboard on the 1st of a month, in a zone west of UTC, for a gateway deployed late the evening
// before: this_month starts at local midnight, and the projection is not built on 20 minutes of usage
// standing for a whole day. Figures worked out by hand; both ledgers.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { dashboardAt as dashboardOn } from './helpers/dashboard-at.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';

const ADMIN = 'admin-secret';
const HOUR = 3_600_000;
// New York is UTC-5 in December: local midnight of Tue 1 Dec 2026 is 05:00 UTC.
const DEC_1 = Date.UTC(2026, 11, 1, 5);

const config = (ledger: string): string => `
server: {timezone: America/New_York, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organization: {monthly_budget: 1000000}
projects:
  web: {daily_limit: 1000000}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys:
  - {id: alice, key: tg-alice, user: alice, project: web}
`;

// A call of 900 input and 100 output tokens at $2.50 / $10 per million: $0.00325.
const call = (ts: number, i: number): LedgerRow =>
  sampleRow({
    ts, requestId: `first-day-${ts}-${i}`, organization: 'default', project: 'web', user: 'alice', keyId: 'alice', groups: [], limits: [], shadowBlocked: [],
    route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', stream: false, streamEnd: null, tags: {}, decision: 'admitted', status: 200,
    inputTokens: 900, outputTokens: 100, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: null,
    costUsd: 0.00325, inputCostUsd: 0.00225, toolFeesUsd: 0,
  });
const CALL_TOKENS = 1000;
const CALL_USD = 0.00325;

/** Deployed Mon 30 Nov at 23:40 local: 20 calls before midnight, then 10 calls an hour from midnight to `hours`. */
function rows(hours: number): LedgerRow[] {
  const out: LedgerRow[] = [];
  for (let i = 0; i < 20; i++) out.push(call(DEC_1 - 20 * 60_000 + i * 60_000, i));
  for (let h = 0; h < hours; h++) for (let i = 0; i < 10; i++) out.push(call(DEC_1 + h * HOUR + i * 60_000, i));
  return out;
}

describe.each(LEDGER_KINDS)('dashboard on the 1st of the month after a late deploy: $kind', ({ place: makePlace }) => {
  const dashboardAt = (now: number, seeded: LedgerRow[]) => dashboardOn(makePlace, config, ADMIN, now, seeded);

  it("projects today's pace at noon, not yesterday's 20 minutes as a day", async () => {
    // Noon on the 1st: 12 hours of 10 calls, half the day gone, 30 days left after today.
    const d = await dashboardAt(DEC_1 + 12 * HOUR, rows(12));
    const today = 120 * CALL_TOKENS;
    expect(d.current_usage.this_month).toMatchObject({ tokens: today, requests: 120, cost_usd: expect.closeTo(120 * CALL_USD, 9) });
    expect(d.current_usage.today.tokens).toBe(today);
    // Today's pace: 240 calls a day; the rest of today and 30 more days.
    const pace = 240;
    expect(d.current_usage.projected_monthly).toEqual({ tokens: (120 + pace / 2 + 30 * pace) * CALL_TOKENS, cost_usd: expect.closeTo((120 + pace / 2 + 30 * pace) * CALL_USD, 9), method: 'today_pace' });
    expect(d.limits.utilization.projected_monthly).toBe(((120 + pace / 2 + 30 * pace) * CALL_TOKENS) / 1_000_000);
    // The 20 calls of 30 Nov are last month's: in the history, not in the month.
    expect(d.history.at(-2)).toMatchObject({ date: '2026-11-30', tokens: 20 * CALL_TOKENS, requests: 20 });
  });

  it('projects nothing in the first minutes of the 1st, rather than a month of 20-minute days', async () => {
    const d = await dashboardAt(DEC_1 + 10 * 60_000, rows(1).filter((r) => r.ts <= DEC_1 + 10 * 60_000));
    // 20 calls before midnight, 10 (at 00:00 ... 00:09) after it.
    expect(d.current_usage.this_month.tokens).toBe(10 * CALL_TOKENS);
    expect(d.current_usage.projected_monthly).toEqual({ tokens: 10 * CALL_TOKENS, cost_usd: expect.closeTo(10 * CALL_USD, 9), method: 'none' });
    expect(d.alerts).toEqual([]);
  });
});
