// The dashboard on days DST makes 23 or 25 hours long, in New York: today starts at local midnight, and
// today's pace divides by the part of the real day gone (11 of 23 hours), not of 24. Figures by hand; both ledgers.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { dashboardAt as dashboardOn } from './helpers/dashboard-at.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';

const ADMIN = 'admin-secret';
const HOUR = 3_600_000;

const config = (ledger: string): string => `
server: {timezone: America/New_York, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organization: {monthly_budget: 10000000, daily_cap: 100000}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys:
  - {id: alice, key: tg-alice, user: alice}
`;

// 900 input and 100 output tokens at $2.50 / $10 per million: $0.00325.
const call = (ts: number): LedgerRow =>
  sampleRow({
    ts, requestId: `dst-${ts}`, organization: 'default', project: null, user: 'alice', keyId: 'alice', groups: [], limits: [], shadowBlocked: [],
    route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', stream: false, streamEnd: null, tags: {}, decision: 'admitted', status: 200,
    inputTokens: 900, outputTokens: 100, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: null,
    costUsd: 0.00325, inputCostUsd: 0.00225, toolFeesUsd: 0,
  });

describe.each(LEDGER_KINDS)('dashboard on DST days in New York: $kind', ({ place: makePlace }) => {
  const dashboardAt = (now: number, seeded: LedgerRow[]) => dashboardOn(makePlace, config, ADMIN, now, seeded);

  it('Sun 8 Mar 2026 (23 h): a call a minute before midnight EST is yesterday, the pace is over 11 of 23 hours', async () => {
    const midnight = Date.parse('2026-03-08T05:00:00Z');
    // One call an hour from local midnight to 11:00 EDT (05:00 ... 15:00 UTC), and one at 23:59 on 7 March.
    const rows = [call(midnight - 60_000), ...Array.from({ length: 11 }, (_, h) => call(midnight + h * HOUR))];
    const d = await dashboardAt(Date.parse('2026-03-08T16:00:00Z'), rows);
    expect(d.current_usage.today).toMatchObject({ tokens: 11_000, requests: 11 });
    expect(d.current_usage.this_month.tokens).toBe(12_000);
    expect(d.limits.daily).toMatchObject({ used: 11_000, resets_at: '2026-03-09T04:00:00.000Z' });
    expect(d.limits.monthly.resets_at).toBe('2026-04-01T04:00:00.000Z');
    // 7 March's one call, a minute before its end, is no day's usage: today's pace, 11,000 in 11 of 23 hours is
    // 23,000 a day (over 24 hours it would read 24,000: 577,000); 12/23 of today is left, then 23 days.
    expect(d.current_usage.projected_monthly).toMatchObject({ method: 'today_pace', tokens: 12_000 + 12_000 + 23 * 23_000 });
    expect(d.history.slice(-2)).toMatchObject([{ date: '2026-03-07', tokens: 1000 }, { date: '2026-03-08', tokens: 11_000 }]);
  });

  it('Sun 1 Nov 2026 (25 h), first of the month: today’s pace over 12 of 25 hours', async () => {
    const midnight = Date.parse('2026-11-01T04:00:00Z');
    // 12 calls, one an hour from local midnight; 31 Oct's calls are last month's and there are none.
    const rows = Array.from({ length: 12 }, (_, h) => call(midnight + h * HOUR));
    const d = await dashboardAt(midnight + 12 * HOUR, rows);
    expect(d.current_usage.today.tokens).toBe(12_000);
    expect(d.current_usage.this_month.tokens).toBe(12_000);
    expect(d.limits.daily.resets_at).toBe('2026-11-02T05:00:00.000Z');
    // 12,000 in 12 of 25 hours: 25,000 a day; 13/25 of today is left, then 29 days.
    expect(d.current_usage.projected_monthly).toMatchObject({ method: 'today_pace', tokens: 12_000 + 13_000 + 29 * 25_000 });
    expect(d.history.at(-1)).toMatchObject({ date: '2026-11-01', tokens: 12_000 });
  });
});
