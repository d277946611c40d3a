// Prometheus' rate() and increase() count what a series gained between two scrapes, so a series that first
// appears at 1 shows no increase: the first hit of each limit (after every restart) was invisible to an
// alert on `increase(tollgate_limit_hits_total[5m]) > 0`. Seen on a real Prometheus 2.42 scraping every 1 s:
// a new series at 1 read `increase(...[1m])` 0 until its second increment. A limit a call was checked
// against now exports its hit series at 0 before it refuses anything (shadow limits with mode="shadow").
import { describe, expect, it } from 'vitest';
import type { PromFamily } from 'parse-prometheus-text-format';
import { families, scrapeText } from './helpers/prometheus-scrape.js';
import { chat, useUsageGateway } from './helpers/usage-gateway.js';

const config = (ledger: string): string => `
server: {timezone: UTC}
storage: {ledger: "${ledger}"}
enforcement: {clamp_max_tokens: false}
providers:
  demo: {type: mock, output_tokens: 10}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organization: {daily_cap: 1000000}
projects:
  web: {daily_limit: 100000, monthly_limit: {max_token: 10, mode: shadow}}
users:
  tier_a: {daily_limit: 100, rate_limit: 1000}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
keys:
  - {id: alice, key: tg-alice, user: alice, tier: tier_a, project: web}
`;

/** The value of the one series of `family` with exactly these labels, or undefined when it is not exported. */
function series(f: PromFamily | undefined, labels: Record<string, string>): number | undefined {
  const m = f?.metrics.find((s) => Object.keys(labels).every((k) => s.labels?.[k] === labels[k]) && Object.keys(s.labels ?? {}).length === Object.keys(labels).length);
  return m === undefined ? undefined : Number(m.value);
}

describe('tollgate_limit_hits_total before the first hit', () => {
  const gateway = useUsageGateway(config);

  it('exports each checked limit at 0, so that its first refusal is an increase', async () => {
    const gw = gateway();
    expect((await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 5 })).status).toBe(200);
    const hits = (): Promise<PromFamily | undefined> => scrapeText(gw.url).then((t) => families(t).get('tollgate_limit_hits_total'));
    const before = await hits();
    const daily = { organization: 'default', limit: 'user:*:daily', mode: 'enforce' };
    expect(series(before, daily)).toBe(0);
    expect(series(before, { organization: 'default', limit: 'org:default:daily', mode: 'enforce' })).toBe(0);
    expect(series(before, { organization: 'default', limit: 'project:web:daily', mode: 'enforce' })).toBe(0);
    // The shadow limit was already passed by the first call (its 18 tokens > 10): a hit of its own.
    expect(series(before, { organization: 'default', limit: 'project:web:monthly', mode: 'shadow' })).toBe(1);
    expect(series(before, { organization: 'default', limit: 'project:web:monthly', mode: 'enforce' })).toBeUndefined();

    expect((await chat(gw.url, 'tg-alice', { model: 'gpt-4o', max_tokens: 85 })).status).toBe(429); // past what is left of alice's 100-token day
    expect(series(await hits(), daily)).toBe(1);
  });
});
