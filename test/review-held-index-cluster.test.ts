// Review of the held index (c0f58d7, 8d8a864) on a 3-node Redis Cluster: two organizations (their hash tags
// on different nodes), reservations noted, a call whose row is in the ledger before its settlement lands,
// a rebuild of both organizations' counters in one call (heldCalls reads each organization's index on its
// node, each restore script carries its own organization's index key). No CROSSSLOT, no undeclared key, and
// each counter ends at the settled usage. This held; kept as a record of what was tried.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configuredLimits } from '../src/ledger/configured-limits.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { load } from './helpers/config-texts.js';
import { startRedisCluster, type RedisCluster } from './helpers/redis-servers.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const NOW = Date.UTC(2026, 10, 18, 10, 5);
let cluster: RedisCluster;
const stores: RedisCounterStore[] = [];
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 30_000);
afterAll(async () => {
  for (const store of stores) await store.close();
  await cluster?.stop();
});

const { ledger } = useLedger({ each: true });

const policy = load(`
providers: {demo: {type: mock}}
organizations:
  acme: {}
  globex: {}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
    token_limiting:
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 1000}
      total: {algorithm: sliding_window, window_size: 1 hour, max_token: 1000}
keys:
  - {id: ka, key: tg-ka, organization: acme}
  - {id: kg, key: tg-kg, organization: globex}
`);

it('a rebuild across two organizations on a cluster counts each call once', async () => {
  const clock = new ManualClock(NOW);
  const open = async () => {
    const client = createRedisClient(cluster.url, 2000);
    if (!(await waitReady(client, 5000))) throw new Error('no Redis');
    const store = new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, timeOverride: clock });
    stores.push(store);
    return store;
  };
  const [a, b] = [await open(), await open()];
  const limits = configuredLimits(policy).map((c) => c.limit);
  const byOrg = (org: string) => limits.filter((l) => l.item.key.startsWith(`tg:{${org}}`));
  expect(byOrg('acme').length).toBeGreaterThan(0);
  expect(byOrg('globex').length).toBeGreaterThan(0);
  const row = (org: string, keyId: string, output: number, requestId: string) =>
    sampleRow({ requestId, ts: NOW, organization: org, keyId, user: keyId, project: null, groups: [], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', inputTokens: 0, outputTokens: output, limits: byOrg(org).map((l) => l.id), decision: 'admitted', costUsd: 0, inputCostUsd: 0 });
  for (const [org, keyId] of [['acme', 'ka'], ['globex', 'kg']]) {
    const items = byOrg(org).map((l) => l.item);
    expect((await a.reserve({ id: `${org}-late`, items, input: 0, output: 600, clamp: false, minOutput: 0 })).ok).toBe(true);
    await ledger().append([row(org, keyId, 200, `${org}-other`), row(org, keyId, 300, `${org}-late`)]);
  }
  await rebuildCounters(ledger(), policy, b, () => clock.now(), false);
  for (const org of ['acme', 'globex']) await a.settle(`${org}-late`, { input: 0, output: 300, request: 1 });
  for (const org of ['acme', 'globex']) {
    expect((await b.peek(byOrg(org).map((l) => l.item))).map((s) => s.used)).toEqual(byOrg(org).map(() => 500));
  }
}, 30_000);
