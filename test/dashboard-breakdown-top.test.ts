// `GET /api/tokens/dashboard` for an organization with more users than a breakdown lists: the costliest
// come first, the rest are one entry, and the reply stays small however many users there are.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

const NOW = Date.UTC(2026, 10, 18, 18);
const ADMIN = 'admin-secret';
const USERS = 250;

const config = (ledger: string): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
providers: {demo: {type: mock}}
pricing: {"demo/gpt-4o": {input: 2.5, output: 10}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]}}
keys: [{id: k, key: tg-k}]
`;

/** One call per user this month; user-<i> used 100 + i input tokens, so user-249 is the costliest. */
function seed(): LedgerRow[] {
  return Array.from({ length: USERS }, (_, i): LedgerRow => {
    const input = 100 + i;
    return {
      ts: NOW - 3_600_000, requestId: `seed-${i}`, organization: 'default', project: null, user: `user-${i}`, keyId: 'k', groups: [],
      route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', endpoint: 'chat', stream: false, streamEnd: null, tags: {}, status: 200, decision: 'admitted',
      blockedBy: null, limits: [], shadowBlocked: [], fallback: null, inputTokens: input, outputTokens: 10, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0,
      reservedInput: input, reservedOutput: 10, costUsd: (input * 2.5 + 10 * 10) / 1e6, inputCostUsd: (input * 2.5) / 1e6, toolFeesUsd: 0, serviceTier: null, usageSource: 'provider', latencyMs: 5, upstreamLatencyMs: 4, providerResponseId: null, inferenceGeo: null, audioInputTokens: 0, audioOutputTokens: 0,
    };
  });
}

describe('dashboard breakdowns of a large organization', () => {
  const gw = useUsageGateway(config, { seed, startMs: NOW });
  const dashboard = async (query = ''): Promise<{ breakdown: { top: number; by_user: Array<{ user: string | null; tokens: number; requests: number; cost_usd: number; others?: number }> }; current_usage: { this_month: { tokens: number; requests: number; cost_usd: number } } }> => {
    const res = await fetch(`${gw().url}/api/tokens/dashboard?org=default${query}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    return res.json();
  };

  it('lists the 20 costliest users by default and folds the other 230 into one entry', async () => {
    const d = await dashboard();
    const users = d.breakdown.by_user;
    expect(users).toHaveLength(21);
    expect(users.slice(0, 20).map((u) => u.user)).toEqual(Array.from({ length: 20 }, (_, i) => `user-${USERS - 1 - i}`));
    expect(users[20]).toMatchObject({ user: null, others: USERS - 20, requests: USERS - 20 });
    const month = d.current_usage.this_month;
    expect(users.reduce((s, u) => s + u.tokens, 0)).toBe(month.tokens);
    expect(users.reduce((s, u) => s + u.requests, 0)).toBe(month.requests);
    expect(users.reduce((s, u) => s + u.cost_usd, 0)).toBeCloseTo(month.cost_usd, 9);
  });

  it('lists as many as ?top= asks, up to all of them', async () => {
    expect((await dashboard('&top=5')).breakdown.by_user.map((u) => u.others ?? 0)).toEqual([0, 0, 0, 0, 0, USERS - 5]);
    const all = (await dashboard(`&top=${USERS}`)).breakdown.by_user;
    expect(all).toHaveLength(USERS);
    expect(all.some((u) => u.others !== undefined)).toBe(false);
  });
});
