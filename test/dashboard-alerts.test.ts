// Dashboard alerts cover every limit that applies within the organization, not only the organization's
// and projects' own: users' tier limits (daily and rate), groups, route input/output limits. Figures are
// worked out by hand from a seeded ledger; another organization's usage never counts.
import { describe, expect, it } from 'vitest';
import { MAX_THRESHOLD_ALERTS } from '../src/analytics/dashboard.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { useUsageGateway } from './helpers/usage-gateway.js';
import { ADMIN, NOW, config, seed } from './helpers/dashboard-alerts-seed.js';

describe.each(LEDGER_KINDS)('dashboard alerts on every applicable limit: $kind', ({ place: makePlace }) => {
  const gw = useUsageGateway(config, { place: makePlace, seed, startMs: NOW });

  const dashboard = async (org: string): Promise<{ alerts: Array<Record<string, unknown>>; alerts_omitted: number; limits: { utilization: unknown } }> => {
    const res = await fetch(`${gw().url}/api/tokens/dashboard?org=${org}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    return res.json();
  };

  it("alerts on users' tier, rate, group and route limits: critical first, then the most utilised", async () => {
    const d = await dashboard('acme');
    // acme today: 1000 + 240 + 2150 + 2200 = 5590 of 100000: no organization alert.
    expect(d.limits.utilization).toEqual({ daily: 0.0559, monthly: null, projected_monthly: null });
    expect(d.alerts).toEqual([
      { level: 'critical', kind: 'threshold', limit: 'user:bob:daily', utilization: 1, message: 'user:bob:daily has reached its limit (1000 tokens of 1000 tokens; action: block).' },
      { level: 'warning', kind: 'threshold', limit: 'route:main:key:dave:output', utilization: 0.9, message: 'route:main:key:dave:output is at 90% of its limit (450 tokens of 500 tokens; action: warn).' },
      { level: 'warning', kind: 'threshold', limit: 'group:ml:daily', utilization: 0.86, message: 'group:ml:daily is at 86% of its limit (3440 tokens of 4000 tokens; action: warn).' },
      { level: 'warning', kind: 'threshold', limit: 'route:main:key:dave:input', utilization: 0.85, message: 'route:main:key:dave:input is at 85% of its limit (1700 tokens of 2000 tokens; action: warn).' },
      { level: 'warning', kind: 'threshold', limit: 'user:carol:rate', utilization: 0.8, message: 'user:carol:rate is at 80% of its limit (4 requests of 5 requests; action: warn).' },
    ]);
    expect(d.alerts_omitted).toBe(0);
  });

  it(`keeps the ${MAX_THRESHOLD_ALERTS} most pressing alerts of a big organization and counts the rest`, async () => {
    const d = await dashboard('globex');
    expect(MAX_THRESHOLD_ALERTS).toBe(20);
    // 26 alerts: globex's bob (5000 of 1000, critical), then u24 (992 tokens) down to u6 (848); u5..u0 are left out.
    expect(d.alerts).toHaveLength(MAX_THRESHOLD_ALERTS);
    expect(d.alerts[0]).toMatchObject({ level: 'critical', limit: 'user:bob:daily', utilization: 5 });
    expect(d.alerts.slice(1).map((a) => a.limit)).toEqual(Array.from({ length: 19 }, (_, j) => `user:u${24 - j}:daily`));
    expect(d.alerts.slice(1).map((a) => a.utilization)).toEqual(Array.from({ length: 19 }, (_, j) => (800 + 8 * (24 - j)) / 1000));
    expect(d.alerts_omitted).toBe(6);
  });

  // Regression test from a FinOps review: dollars were rounded to cents, so a money limit at 99.98% read "$0.01 of $0.01".
  it('writes dollars used and allowed so that they differ when they do', async () => {
    const d = await dashboard('initech');
    expect(d.limits.utilization).toEqual({ daily: 0.99975, monthly: null, projected_monthly: null });
    expect(d.alerts).toEqual([
      { level: 'warning', kind: 'threshold', limit: 'org:initech:daily', utilization: 0.99975, message: 'org:initech:daily is at 99.9% of its limit ($0.009998 of $0.01; action: warn).' },
    ]);
  });

  it("reports a spent enforced limit as critical even when the ladder's top rung only warns", async () => {
    gw().reload(`${config('sqlite:/unused/on/reload.db')}alerts:\n  - {threshold: 0.8, action: warn, channels: [log]}\n`);
    try {
      const d = await dashboard('acme');
      expect(d.alerts[0]).toEqual({
        level: 'critical',
        kind: 'threshold',
        limit: 'user:bob:daily',
        utilization: 1,
        message: 'user:bob:daily has reached its limit (1000 tokens of 1000 tokens; action: warn; enforced, so calls that need more are refused).',
      });
      // Below 100% the warn rung stands.
      expect(d.alerts.slice(1).map((a) => a.level)).toEqual(['warning', 'warning', 'warning', 'warning']);
    } finally {
      gw().reload();
    }
  });
});
