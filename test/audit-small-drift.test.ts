// `tollgate audit` must show a call the counters never saw however large the counter it is missing from:
// the drift tolerance was relative 1e-6, so a lost call of 40 tokens hid under a monthly counter of 50M
// tokens, and one of $0.000175 under a money counter at $350. Both ledgers. And a rate limit's counter above
// the ledger is its token-free requests (no row by design), not drift: it made `tollgate audit` exit 2.
import { describe, expect, it } from 'vitest';
import type { AuditReport } from '../src/ledger/audit.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

const ADMIN = 'audit-admin';
const NOW = Date.UTC(2026, 10, 21, 12);

const config = (ledger: string): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organization: {monthly_budget: 100000000, daily_cap: {max_cost_usd: 10000}}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys:
  - {id: alice, key: tg-alice, user: alice}
`;

/** A gpt-4o call of alice's, priced as the gateway prices it. */
const call = (ts: number, input: number, output: number, id: string): LedgerRow =>
  sampleRow({
    ts, requestId: id, organization: 'default', project: null, user: 'alice', keyId: 'alice', groups: [], limits: [], shadowBlocked: [],
    route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', endpoint: 'chat', stream: false, streamEnd: null, tags: {}, status: 200, decision: 'admitted',
    inputTokens: input, outputTokens: output, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: null,
    costUsd: (input * 2.5 + output * 10) / 1e6, inputCostUsd: (input * 2.5) / 1e6, toolFeesUsd: 0,
  });

describe.each(LEDGER_KINDS)('audit of a small loss under large counters: $kind', ({ place }) => {
  // Today: 20M input tokens for $50 and 30M output for $300 ($350); earlier this month, none.
  const gw = useUsageGateway(config, { place, startMs: NOW, seed: () => [call(NOW - 3_600_000, 20_000_000, 10_000_000, 'big-1'), call(NOW - 1_800_000, 0, 20_000_000, 'big-2')] });

  it('reports a 40-token call that only the ledger has', async () => {
    const audit = async (): Promise<AuditReport> => (await fetch(`${gw().url}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    const clean = await audit();
    expect(clean.drifting).toBe(0);
    expect(clean.lines.find((l) => l.limit === 'org:default:monthly')).toMatchObject({ counter: 50_000_000, ledger: 50_000_000, drift: 0 });
    expect(clean.lines.find((l) => l.limit === 'org:default:daily')).toMatchObject({ unit: 'usd', counter: expect.closeTo(350, 9), drift: 0 });

    // A call written to the ledger but never counted (as after a counter store lost a write): 30 + 10 tokens, $0.000175.
    await gw().usage.ledger.append([call(NOW - 60_000, 30, 10, 'lost')]);
    const lines = new Map((await audit()).lines.map((l) => [l.limit, l]));
    expect(lines.get('org:default:monthly')).toMatchObject({ ledger: 50_000_040, drift: -40 });
    expect(lines.get('org:default:daily')?.drift).toBeCloseTo(-0.000175, 9);
  });
});

describe('audit of a rate limit that counted token-free requests', () => {
  const gw = useUsageGateway(
    (ledger) => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock}
users: {tier_a: {rate_limit: 100}}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys:
  - {id: alice, key: tg-alice, user: alice, tier: tier_a}
`,
  );

  it('shows no drift: count_tokens counts against the rate limit and has no ledger row, by design', async () => {
    const post = (path: string, body: object): Promise<Response> =>
      fetch(`${gw().url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'tg-alice' }, body: JSON.stringify(body) });
    const messages = [{ role: 'user', content: 'hi' }];
    expect((await post('/v1/messages', { model: 'gpt-4o', max_tokens: 10, messages })).status).toBe(200);
    expect((await post('/v1/messages/count_tokens', { model: 'gpt-4o', messages })).status).toBe(200);
    const report = (await (await fetch(`${gw().url}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as AuditReport;
    expect(report.lines.find((l) => l.limit === 'user:alice:rate')).toMatchObject({ unit: 'requests', counter: 2, ledger: 1, drift: 0 });
    expect(report.drifting).toBe(0);
  });
});
