// `GET /api/tokens/dashboard` costs are shown to the nano-dollar, and each breakdown's entries add up to
// this_month as shown: a FinOps lead adds them up and expects the month.
import { describe, expect, it } from 'vitest';
import { useUsageGateway } from './helpers/usage-gateway.js';
import { sampleRow } from './helpers/sample-row.js';

const NOW = Date.UTC(2026, 10, 18, 18);
const ADMIN = 'admin-secret';
// Five cached input tokens of gpt-4o-mini served at flex: 5 x 0.0375 $/M = 187.5 nano-dollars.
const CALL_USD = 0.1875e-6;

const config = (ledger: string): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
providers: {openai: {type: mock}}
routes: {main: {chat_models: [{model_id: gpt-4o-mini, model: openai/gpt-4o-mini}]}}
projects: {a: {daily_limit: 1000}, b: {daily_limit: 1000}, c: {daily_limit: 1000}, d: {daily_limit: 1000}}
keys: [{id: k, key: tg-k}]
`;

/** Four calls this month, each by its own user in its own project, each of 187.5 nano-dollars. */
const seed = () =>
  ['a', 'b', 'c', 'd'].map((p, i) =>
    sampleRow({
      ts: NOW - 3_600_000 + i, organization: 'default', project: p, user: `user-${p}`, keyId: 'k', route: 'main', modelId: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini',
      inputTokens: 5, outputTokens: 0, cachedInputTokens: 5, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, costUsd: CALL_USD, inputCostUsd: CALL_USD, serviceTier: 'flex',
    }),
  );

type Entry = { cost_usd: number; others?: number };

describe('dashboard costs to the nano-dollar', () => {
  const gw = useUsageGateway(config, { seed, startMs: NOW });
  const dashboard = async (query = ''): Promise<{ breakdown: Record<'by_project' | 'by_model' | 'by_user', Entry[]>; current_usage: { this_month: { cost_usd: number } } }> => {
    const res = await fetch(`${gw().url}/api/tokens/dashboard?org=default${query}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    return res.json();
  };
  const nanos = (entries: Entry[]): number => Math.round(entries.reduce((s, e) => s + e.cost_usd, 0) * 1e9);

  // Regression: each entry was rounded on its own (188 n$), so the four projects and users added up to
  // 752 n$ beside a month of 750.
  it.each(['', '&top=2'])('each breakdown adds up to this_month (%s)', async (query) => {
    const d = await dashboard(query);
    expect(Math.round(d.current_usage.this_month.cost_usd * 1e9)).toBe(750);
    expect(d.breakdown.by_project).toHaveLength(query ? 3 : 4);
    for (const list of [d.breakdown.by_project, d.breakdown.by_model, d.breakdown.by_user]) expect(nanos(list)).toBe(750);
    // Each entry stays within one nano-dollar of its exact 187.5.
    for (const e of d.breakdown.by_user.filter((u) => u.others === undefined)) expect([187, 188]).toContain(Math.round(e.cost_usd * 1e9));
  });
});
