// Review s40 (calendar): a reload that changes server.timezone. The README (Reloading) says the setting is
// read once at start: "the counter store rolls days and months over in the zone it started with", and the
// reload logs that it needs a restart. The counters do keep the old zone; but every reader that takes the
// zone from the policy in force (the reloaded one: usage-services' currentPolicy(), rebuildFor(next), the
// admin API's ctx.policy()) computes the windows in the new zone: src/ledger/limit-usage.ts
// ledgerUsageByLimit (`new WindowCalculator(policy.server.timezone)`) and src/analytics/dashboard.ts
// buildDashboard (`policy.server.timezone`). Fixed: a reload keeps every start-only setting in the policy in
// force (restart-settings.ts withStartSettings). In-process gateway wired as `tollgate serve` wires it
// (test/helpers/usage-gateway.ts), manual clock; SQLite ledger.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { sqlitePlace } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';
import { chat, startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

const ADMIN = 'calendar-admin';
// 12:00 UTC on Thu 10 Dec 2026: in Kathmandu (+05:45) 17:45; its day began at 18:15 UTC on the 9th.
const NOW = Date.parse('2026-12-10T12:00:00Z');
const UTC_MIDNIGHT_NEXT = '2026-12-11T00:00:00.000Z';

const config = (ledgerUrl: string, timezone: string, groupLimit = '') => `
server: {timezone: ${timezone}, admin_key: ${ADMIN}}
storage: {ledger: "${ledgerUrl}"}
providers: {demo: {type: mock}}
organization: {daily_cap: 1000}
projects:
  web: {daily_limit: 100000}
groups:
  team: {${groupLimit}}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys:
  - {id: alice, key: tg-alice, user: alice, project: web, groups: [team]}
enforcement: {clamp_max_tokens: false}
`;

const row = (ts: number, tokens: number): LedgerRow =>
  sampleRow({
    ts, organization: 'default', project: 'web', user: 'alice', keyId: 'alice', groups: ['team'], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o',
    endpoint: 'chat', decision: 'admitted', status: 200, limits: [], shadowBlocked: [], inputTokens: tokens, outputTokens: 0, cachedInputTokens: 0,
    cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, costUsd: 0, inputCostUsd: 0,
  });

async function withGateway(seed: LedgerRow[], body: (gw: UsageTestGateway, ledgerUrl: string) => Promise<void>): Promise<void> {
  const place = sqlitePlace();
  const ledger = await openLedger(place.url);
  await ledger.append(seed);
  await ledger.close();
  const gw = await startUsageGateway(config(place.url, 'UTC'), NOW);
  try {
    await body(gw, place.url);
  } finally {
    await gw.close();
    await place.drop();
  }
}

const dashboard = async (gw: UsageTestGateway): Promise<any> => {
  const res = await fetch(`${gw.url}/api/tokens/dashboard`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return res.json();
};

describe('review s40 calendar: a reload that changes server.timezone', () => {
  it('keeps enforcing in the zone it started with (as documented): the 429 resets at UTC midnight', async () => {
    await withGateway([row(Date.parse('2026-12-10T10:00:00Z'), 900)], async (gw, url) => {
      gw.reload(config(url, 'Asia/Kathmandu'));
      const r = await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 500 });
      expect(r.status).toBe(429);
      expect(r.headers.get('x-tollgate-limit')).toBe('org:default:daily');
      expect(JSON.stringify(r.body)).toContain(`(at ${UTC_MIDNIGHT_NEXT})`);
      expect(r.headers.get('retry-after')).toBe(String(12 * 3600));
    });
  });

  // The control for the next test: the same reload without the zone change rebuilds the group limit it adds
  // from the ledger (900 of 1,000 spent today), and the call is refused by it.
  it('a group limit added by a reload (same zone) counts what was spent today: a 500-token call is refused', async () => {
    await withGateway([row(Date.parse('2026-12-10T10:00:00Z'), 900)], async (gw, url) => {
      const policy = gw.reload(config(url, 'UTC', 'daily_limit: 1000').replace('daily_cap: 1000', 'daily_cap: 100000')).policy;
      await gw.usage.rebuildFor(policy);
      const r = await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 500 });
      expect(r.status).toBe(429);
      expect(r.headers.get('x-tollgate-limit')).toBe('group:team:daily');
      expect(JSON.stringify(r.body)).toContain(`(at ${UTC_MIDNIGHT_NEXT})`);
    });
  });

  // Was a bug, fixed (restart-settings.ts withStartSettings: a reload keeps the start-up zone in the policy in force): a limit a reload adds (or whose algorithm or window it changes) is rebuilt from the ledger
  // (README "Reloading": "a limit a reload adds or changes counts what was spent under it already"). In the
  // same reload as a server.timezone change, the rebuild works out the window in the new zone
  // (ledgerUsageByLimit with the reloaded policy's zone) and hands the store windowStartMs = Kathmandu
  // midnight (18:15Z on the 9th); the store's day is the UTC one (00:00Z on the 10th), so
  // MemoryCounterStore.restore skips the entry ("restored only while that window is still the store's") and
  // the new group daily_limit of 1,000 starts at 0 though the ledger has 900 spent today in either zone:
  // a call reserving ~510 tokens is admitted (1,410 > 1,000 in the window). The same happens on Redis after a
  // FLUSHALL (rebuildLost uses currentPolicy()): every calendar counter comes back empty. Expected: the rebuild
  // uses the zone the store rolls over in, so the new group limit reads 900 and the call is a 429.
  it('a limit added in the same reload is rebuilt in the store’s window: 900 spent today, a 500-token call is refused', async () => {
    await withGateway([row(Date.parse('2026-12-10T10:00:00Z'), 900)], async (gw, url) => {
      // The org cap raised, so that only the group limit the reload adds can refuse.
      const next = config(url, 'Asia/Kathmandu', 'daily_limit: 1000').replace('daily_cap: 1000', 'daily_cap: 100000');
      const policy = gw.reload(next).policy;
      await gw.usage.rebuildFor(policy); // what start-gateway's reloadNow does before the new config applies
      const r = await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 500 });
      expect(r.status).toBe(429);
      expect(r.headers.get('x-tollgate-limit')).toBe('group:team:daily');
    });
  });

  // Was a bug, fixed (restart-settings.ts withStartSettings: a reload keeps the start-up zone in the policy in force): after the reload the dashboard reports the organization's daily limit in the new zone's day
  // (buildDashboard reads policy.server.timezone of the reloaded policy) while the counter that enforces it
  // still counts the UTC day. README: `limits.daily` is "the organization's limits as they count", its
  // `resets_at` "when a fixed window ends". Seen: used 1,300 (900 today + 400 at 20:00Z yesterday, which is
  // Kathmandu's today), resets_at 2026-12-10T18:15Z, timezone "Asia/Kathmandu"; the counter holds 900 and
  // the 429 says it resets at 2026-12-11T00:00Z. Expected: the figures of the window the counter counts
  // (900, resetting at UTC midnight) until a restart applies the new zone.
  it('the dashboard’s limits.daily shows the window the counter enforces (900, resets at UTC midnight)', async () => {
    const rows = [row(Date.parse('2026-12-10T10:00:00Z'), 900), row(Date.parse('2026-12-09T20:00:00Z'), 400)];
    await withGateway(rows, async (gw, url) => {
      const before = await dashboard(gw);
      expect(before.limits.daily).toMatchObject({ used: 900, resets_at: UTC_MIDNIGHT_NEXT });
      gw.reload(config(url, 'Asia/Kathmandu'));
      const r = await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 500 });
      expect(JSON.stringify(r.body)).toContain(`(at ${UTC_MIDNIGHT_NEXT})`);
      const after = await dashboard(gw);
      expect(after.limits.daily).toMatchObject({ used: 900, resets_at: UTC_MIDNIGHT_NEXT });
    });
  });

  // Was a bug, fixed (restart-settings.ts withStartSettings: a reload keeps the start-up zone in the policy in force): `GET /api/audit` (and so `tollgate audit`, exit 2) reports drift after such a reload though every
  // call is counted exactly: auditCounters sums the ledger over the new zone's day (1,300) and compares it
  // with the counter of the UTC day (900): drift -400 on org:default:daily. Expected: no drift (the counter
  // and the ledger agree on the window the store counts).
  it('the audit finds no drift after the reload (the counter and the ledger agree on the store’s day)', async () => {
    const rows = [row(Date.parse('2026-12-10T10:00:00Z'), 900), row(Date.parse('2026-12-09T20:00:00Z'), 400)];
    await withGateway(rows, async (gw, url) => {
      const audit = async () => (await (await fetch(`${gw.url}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as any;
      expect((await audit()).drifting).toBe(0);
      gw.reload(config(url, 'Asia/Kathmandu'));
      const after = await audit();
      const daily = after.lines.find((l: any) => l.limit === 'org:default:daily');
      expect(daily).toMatchObject({ counter: 900, drift: 0 });
      expect(after.drifting).toBe(0);
    });
  });
});
