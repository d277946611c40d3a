// The dashboard's organization and project limits with a rolling algorithm (sliding window, token bucket):
// their `used`, `remaining`, utilization and alerts must be what the limit counts (the last 24 hours, the
// bucket's level), not the calendar day's usage, or a limit that refuses every call reads as nearly empty.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

// Thursday 19 November 2026, 08:00 UTC: the calendar day is 8 hours old.
const NOW = Date.UTC(2026, 10, 19, 8);
const HOUR = 3_600_000;
const ADMIN = 'admin-secret';

const config = (ledger: string): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organization:
  daily_cap: {max_token: 2000, algorithm: sliding_window}
  monthly_budget: 100000
projects:
  web: {daily_limit: {max_token: 1000, algorithm: sliding_window}}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
keys:
  - {id: alice, key: tg-alice, user: alice, project: web}
`;

let seq = 0;
function row(ts: number, input: number, output: number): LedgerRow {
  return {
    ts, requestId: `seed-${seq++}`, organization: 'default', project: 'web', user: 'alice', keyId: 'alice', groups: [],
    route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', endpoint: 'chat', stream: false, streamEnd: null, tags: {}, status: 200, decision: 'admitted',
    blockedBy: null, limits: [], shadowBlocked: [], fallback: null, inputTokens: input, outputTokens: output, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0,
    reservedInput: input, reservedOutput: output, costUsd: (input * 2.5 + output * 10) / 1e6, inputCostUsd: (input * 2.5) / 1e6, toolFeesUsd: 0, serviceTier: null, usageSource: 'provider', latencyMs: 5, upstreamLatencyMs: 4, providerResponseId: null, inferenceGeo: null, audioInputTokens: 0, audioOutputTokens: 0,
  };
}

// Yesterday evening (within the last 24 hours): 1900 tokens. Today so far: 50 tokens.
const seed = (): LedgerRow[] => [row(NOW - 12 * HOUR, 1500, 400), row(NOW - 1 * HOUR, 40, 10)];

describe.each(LEDGER_KINDS)('dashboard with rolling-window organization and project limits: $kind', ({ place }) => {
  const gw = useUsageGateway(config, { place, seed, startMs: NOW });

  it('reports what the sliding windows count, and alerts on them', async () => {
    // The gateway agrees: the project's window holds 1950 of 1000, so a call is refused by it.
    const call = await fetch(`${gw().url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer tg-alice', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
    });
    expect(call.status).toBe(429);
    expect(call.headers.get('x-tollgate-limit')).toBe('project:web:daily');
    await gw().usage.writer.flush();

    const res = await fetch(`${gw().url}/api/tokens/dashboard?org=default`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    const d = await res.json();
    // The calendar day's figures stay the calendar day's.
    expect(d.current_usage.today.tokens).toBe(50);
    // The limit counts the last 24 hours: 1950 tokens.
    expect(d.limits.daily).toMatchObject({ limit: 'org:default:daily', unit: 'tokens', max: 2000, used: 1950, remaining: 50 });
    expect(d.limits.utilization.daily).toBe(0.975);
    // A fixed calendar month is still the month to date.
    expect(d.limits.monthly).toMatchObject({ used: 1950, remaining: 100000 - 1950, resets_at: '2026-12-01T00:00:00.000Z' });
    // A rolling window has no end of day: all it counts is back once its newest slot (72 minutes, the call
    // an hour ago) has left it, a window and a slot after the slot began. It read midnight, as a fixed window.
    const slotMs = (24 * HOUR) / 20;
    const newestSlot = Math.floor((NOW - HOUR) / slotMs) * slotMs;
    expect(d.limits.daily.resets_at).toBe(new Date(newestSlot + 24 * HOUR + slotMs).toISOString());
    const levels = Object.fromEntries(d.alerts.map((a: { limit: string; level: string }) => [a.limit, a.level]));
    expect(levels).toEqual({ 'project:web:daily': 'critical', 'org:default:daily': 'warning' });
    expect(d.alerts.find((a: { limit: string }) => a.limit === 'project:web:daily').utilization).toBe(1.95);
  });
});

const bucketConfig = (ledger: string): string => config(ledger).replace('daily_cap: {max_token: 2000, algorithm: sliding_window}', 'daily_cap: {max_token: 2000, algorithm: token_bucket}');

describe.each(LEDGER_KINDS)('dashboard with a token-bucket organization limit: $kind', ({ place }) => {
  const gw = useUsageGateway(bucketConfig, { place, seed, startMs: NOW });

  it('says when the bucket has drained what it holds', async () => {
    const d = await (await fetch(`${gw().url}/api/tokens/dashboard?org=default`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    // 1900 tokens 12 hours ago drained at 2000 a day to 983.3 by the call an hour ago, 1033.3 then, 950 now.
    expect(d.limits.daily.used).toBeCloseTo(950, 6);
    // 950 tokens drain in 11.4 hours.
    expect(Date.parse(d.limits.daily.resets_at) - NOW).toBe(Math.ceil((d.limits.daily.used * 24 * HOUR) / 2000));
    expect(Date.parse(d.limits.daily.resets_at) - NOW).toBeCloseTo(11.4 * HOUR, -3);
  });
});
