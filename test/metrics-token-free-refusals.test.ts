// A rate limit refusing requests that are no calls (an Anthropic token count, a stored response fetched):
// they were counted only in tollgate_rejected_requests_total, which names no organization and no limit,
// so an alert on tollgate_limit_hits_total missed them (1,001 refusals showed 0 hits).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

let place: LedgerPlace;
let gw: UsageTestGateway;

beforeAll(async () => {
  place = sqlitePlace();
  gw = await startUsageGateway(`
storage: {ledger: "${place.url}"}
providers:
  demo: {type: mock}
projects: {web: {daily_limit: 100000}}
users:
  tier_a: {daily_limit: 100000, rate_limit: 2}
routes:
  main:
    chat_models: [{model_id: claude, model: demo/claude-haiku}]
keys:
  - {id: alice, key: tg-alice, user: alice, tier: tier_a, project: web}
`);
});
afterAll(async () => {
  await gw?.close();
  await place?.drop();
});

const countTokens = (): Promise<Response> =>
  fetch(`${gw.url}/v1/messages/count_tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'tg-alice', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'Hello' }] }),
  });

describe('limit hits of requests that are no calls', () => {
  it('counts a rate limit refusing token counts as hits of that limit, for the organization', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await countTokens()).status);
    expect(statuses).toEqual([200, 200, 429, 429, 429]);
    const m = families(await scrapeText(gw.url));
    expect(sum(m.get('tollgate_limit_hits_total'), { organization: 'default', limit: 'user:*:rate', mode: 'enforce' })).toBe(3);
    expect(sum(m.get('tollgate_rejected_requests_total'), { code: 'rate_limit_exceeded' })).toBe(3);
  });
});
