// After a rebuild or a reload, /metrics tracks again the limits of every (key, route model) pair seen: in the
// ledger or since. Resolved all at once, tens of thousands of pairs held the event loop (5,000 keys on 20
// models: 0.86 s on each reload); they are resolved a few hundred at a time (usage-services.ts retrack).
// Here more pairs than one turn resolves: after a start and after reloads, every pair's limit is tracked
// with the figures of the configuration in force, the last one when two reloads come together.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../src/ledger/open-ledger.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';
import { until } from './helpers/until.js';
import { startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

const KEYS = 700; // more than one turn's 256 pairs, and not a multiple of it
const START = Date.UTC(2026, 11, 6, 12);

const config = (ledger: string, daily: number): string => `
server: {timezone: UTC}
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
projects:
${Array.from({ length: KEYS }, (_, i) => `  p${i}: {daily_limit: ${daily}}`).join('\n')}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
keys:
${Array.from({ length: KEYS }, (_, i) => `  - {id: k${i}, key: tg-k${i}, user: u${i}, project: p${i}}`).join('\n')}
`;

/** Each project's daily headroom on /metrics, by project index. */
async function projectRemaining(url: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const family = parsePrometheusTextFormat(text).find((f) => f.name === 'tollgate_limit_remaining_tokens');
  const out = new Map<number, number>();
  for (const m of family?.metrics ?? []) {
    const match = /^project:p(\d+):daily$/.exec((m as { labels: Record<string, string> }).labels.limit);
    if (match) out.set(Number(match[1]), Number((m as { value: string }).value));
  }
  return out;
}

describe('/metrics tracks the limits of many key and model pairs again after a rebuild and reloads', () => {
  let place: LedgerPlace;
  let gw: UsageTestGateway;
  beforeAll(async () => {
    place = sqlitePlace();
    const ledger = await openLedger(place.url);
    // Key i spent 10 + i % 50 tokens today.
    await ledger.append(
      Array.from({ length: KEYS }, (_, i) =>
        sampleRow({ ts: START - 3_600_000, organization: 'default', project: `p${i}`, user: `u${i}`, keyId: `k${i}`, groups: [], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', inputTokens: 10 + (i % 50), outputTokens: 0, cachedInputTokens: 0, limits: [`project:p${i}:daily`], decision: 'admitted', status: 200 }),
      ),
    );
    await ledger.close();
    gw = await startUsageGateway(config(place.url, 1000), START);
  });
  afterAll(async () => {
    await gw?.close();
    await place?.drop();
  });

  it("shows every pair's limit after the start's rebuild, and each reload's figures once it is applied", async () => {
    const atStart = await projectRemaining(gw.url);
    expect(atStart.size).toBe(KEYS);
    for (let i = 0; i < KEYS; i++) expect(atStart.get(i)).toBe(1000 - (10 + (i % 50)));

    gw.reload(config(place.url, 2000));
    await until(async () => [...(await projectRemaining(gw.url)).values()].every((r) => r >= 1000), 10_000);
    const reloaded = await projectRemaining(gw.url);
    expect(reloaded.size).toBe(KEYS);
    for (let i = 0; i < KEYS; i++) expect(reloaded.get(i)).toBe(atStart.get(i)! + 1000);

    // Two reloads at once: the first one's resolving stops, and the figures are the last config's.
    gw.reload(config(place.url, 3000));
    gw.reload(config(place.url, 5000));
    await until(async () => [...(await projectRemaining(gw.url)).values()].every((r) => r >= 4000), 10_000);
    const last = await projectRemaining(gw.url);
    expect(last.size).toBe(KEYS);
    for (let i = 0; i < KEYS; i++) expect(last.get(i)).toBe(atStart.get(i)! + 4000);
  });
});
