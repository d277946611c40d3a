// The dashboard asks for one organization's limit usage. It reads only that organization's rows (every
// counter lives under its organization's hash tag, so nothing else can add to it) and gets the same
// figures as the whole-ledger sum the counter rebuild and the audit use.
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { ledgerUsageByLimit } from '../src/ledger/limit-usage.js';
import { organizationTag } from '../src/limits/applicable-limits.js';
import { load } from './helpers/config-texts.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const NOW = Date.UTC(2026, 10, 18, 18, 30);

const policy = load(`
organizations:
  acme: {daily_cap: 100000}
  globex: {daily_cap: 100000}
providers:
  demo: {type: mock}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
    token_limiting:
      scope: user
      input: {algorithm: token_bucket, window_size: 1 hour, max_token: 3600}
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 500}
keys:
  - {id: bob, key: tg-bob, user: bob, organization: acme}
  - {id: zed, key: tg-zed, user: zed, organization: globex}
`);

const call = (org: string, keyId: string, user: string, minutesAgo: number, input: number, output: number): LedgerRow =>
  sampleRow({ ts: NOW - minutesAgo * 60_000, organization: org, keyId, user, project: null, groups: [], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', inputTokens: input, outputTokens: output });

describe('limit usage of one organization', () => {
  const { ledger } = useLedger({
    seed: (l) => l.append([
      call('acme', 'bob', 'bob', 20, 600, 40),
      call('acme', 'bob', 'bob', 2, 300, 30),
      call('globex', 'zed', 'zed', 15, 900, 90),
      // A key that is no longer configured: its rows still count where they were recorded, in globex only.
      call('globex', 'gone', 'gone', 5, 10, 1),
    ]),
  });

  it("counts only the organization's limits, with the whole-ledger figures", async () => {
    const all = await ledgerUsageByLimit(ledger(), policy, NOW);
    const acme = await ledgerUsageByLimit(ledger(), policy, NOW, 'acme');
    const acmeTag = `${organizationTag('acme')}:`;
    const usedByKey = (u: typeof all): Record<string, number> => Object.fromEntries(u.limits.map((l) => [l.limit.item.key, l.used]));

    expect(acme.limits.length).toBeGreaterThan(0);
    expect(acme.limits.every((l) => l.limit.item.key.startsWith(acmeTag))).toBe(true);
    expect(usedByKey(acme)).toEqual(Object.fromEntries(Object.entries(usedByKey(all)).filter(([k]) => k.startsWith(acmeTag))));
    // By hand: the org's daily cap counts 900 in + 70 out; the output window 70; the input bucket
    // (3600 an hour, so 60 a minute) got 600 at -20 min, drained to 0 by -10 min, then 300 at -2 min: 180 left.
    const byId = Object.fromEntries(acme.limits.map((l) => [l.limit.id, l.used]));
    expect(byId).toEqual({ 'org:acme:daily': 970, 'route:main:key:bob:output': 70, 'route:main:key:bob:input': 180 });
    expect(acme.skippedKeys).toEqual([]);
    expect(all.skippedKeys).toEqual([]);
    expect(all.limits.find((l) => l.organization === 'globex' && l.limit.id === 'org:globex:daily')?.used).toBe(990 + 11);
  });
});
