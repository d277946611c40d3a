// Three gateway processes sharing one Redis (then a 3-node Redis Cluster), 600 requests released together
// from three client processes against hard limits at every level: overshoot 0 for every limit, Redis
// counters equal to the settled usage after quiesce (drift 0), no reservation left open, no CROSSSLOT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from './helpers/redis-servers.js';
import { releaseTogether, startFleet, type Fleet, type LoadRequest, type LoadResult } from './helpers/redis-fleet.js';

const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
const PROJECT: Record<string, string> = { u0: 'pa', u1: 'pa', u2: 'pa', u3: 'pb', u4: 'pb', u5: 'pb' };
const TIER: Record<string, string> = { u0: 'small', u1: 'small', u2: 'big', u3: 'big', u4: 'big', u5: 'big' };
const GROUP: Record<string, string | undefined> = { u3: 'g1', u4: 'g1' };
// Layered so that each level binds for part of the traffic (a full request reserves ~57 tokens): the small
// tier's users after ~5 requests each, group g1 after ~14, project pa after ~21, then the organization
// (~87) and the route's input and output (~100) for everyone left. The organization binds well after the
// others (about 30, 42 and 50 admitted calls in round-robin order) because a refusal names the organization
// once it is exhausted too: with it close behind them, an unlucky arrival order left too few refusals naming
// the lower levels (one CI run saw only two levels named).
const LIMITS = { small: 300, big: 100_000, g1: 800, pa: 1200, pb: 100_000, org: 5000, routeInput: 3000, routeOutput: 4000 };
const MAX_TOKENS = 40;

function config(org: string, storeUrl: string, mockUrl: string): string {
  return `
server: {timezone: UTC}
# A generous timeout: this test is about exactness under load, not about a slow store.
storage: {counters: "${storeUrl}", instances: 3, on_store_error: fail_closed, timeout_ms: 2000}
providers: {up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}}
organizations:
  ${org}: {daily_cap: ${LIMITS.org}}
projects:
  pa: {daily_limit: ${LIMITS.pa}}
  pb: {daily_limit: ${LIMITS.pb}}
users:
  small: {daily_limit: ${LIMITS.small}}
  big: {daily_limit: ${LIMITS.big}}
groups:
  g1: {daily_limit: ${LIMITS.g1}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]
    token_limiting:
      input: {algorithm: fixed_window, window_size: 1 hour, max_token: ${LIMITS.routeInput}}
      output: {algorithm: sliding_window, window_size: 1 hour, max_token: ${LIMITS.routeOutput}}
keys:
${USERS.map((u) => `  - {id: ${u}, key: tg-${u}, organization: ${org}, user: ${u}, tier: ${TIER[u]}, project: ${PROJECT[u]}${GROUP[u] ? `, groups: [${GROUP[u]}]` : ''}}`).join('\n')}
`;
}

/** 3 clients × 200 requests; three in four use their whole allowance (so a race would show), the rest a random part. */
function workload(): LoadRequest[][] {
  return [0, 1, 2].map((c) =>
    Array.from({ length: 200 }, (_, i) => {
      const user = USERS[(c * 200 + i) % USERS.length];
      const out = i % 4 === 0 ? Math.floor(Math.random() * (MAX_TOKENS + 1)) : MAX_TOKENS;
      return { key: `tg-${user}`, body: { model: 'gpt-4o', messages: [{ role: 'user', content: `Request ${c}-${i}: count to three.` }], max_tokens: MAX_TOKENS, mock_output_tokens: out } };
    }),
  );
}

const sum = (rs: LoadResult[], f: (r: LoadResult) => number): number => rs.reduce((s, r) => s + f(r), 0);
const total = (r: LoadResult): number => r.usage!.input + r.usage!.output;
const userOf = (r: LoadResult): string => r.key.slice(3);

async function until(what: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until midnight UTC is more than a minute away, so the daily windows cannot roll mid-test. */
async function awayFromMidnight(): Promise<void> {
  const msToMidnight = 86_400_000 - (Date.now() % 86_400_000);
  if (msToMidnight < 60_000) await new Promise((r) => setTimeout(r, msToMidnight + 1000));
}

async function readCounter(redis: Redis | Cluster, key: string): Promise<number> {
  const h = await redis.hgetall(key);
  if ('u' in h) return Number(h.u);
  return Object.values(h).reduce((s, v) => s + Number(v), 0); // sliding window: the sum of its slots
}

async function openRecords(redis: Redis | Cluster, org: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const keys: string[] = [];
  for (const node of nodes) keys.push(...(await node.keys(`tg:{${org}}:res:*`)));
  return keys;
}

describe.each([
  ['one Redis', false],
  ['a 3-node Redis Cluster', true],
])('3 gateway instances sharing %s', (_name, clustered) => {
  let server: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  let fleet: Fleet;
  let redis: Redis | Cluster;
  const org = `mi${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    await awayFromMidnight();
    let url: string;
    if (clustered) {
      cluster = await startRedisCluster();
      url = cluster.url;
      redis = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
    } else {
      server = await startRedisServer();
      url = server.url;
      redis = new Redis(url);
    }
    fleet = await startFleet(3, (mockUrl) => config(org, url, mockUrl));
  }, 60_000);
  afterAll(async () => {
    await fleet?.stop();
    await redis?.quit();
    await Promise.all([server?.stop(), cluster?.stop()]);
  });

  it('600 requests released together: every limit holds exactly, counters equal settled usage, nothing left open', async () => {
    await fleet.clearUpstream();
    const results = await releaseTogether(fleet.urls, workload());
    expect(results).toHaveLength(600);
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    // Only admitted (200) or refused by a limit (429): no 503 (store errors, CROSSSLOT), no 500.
    expect([...statuses.keys()].sort()).toEqual([200, 429]);
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThan(20);
    expect((await fleet.upstreamRequests()).length).toBe(ok.length);

    // Overshoot 0 at every level: the settled tokens of each limit's members never exceed it.
    const of = (pred: (u: string) => boolean): LoadResult[] => ok.filter((r) => pred(userOf(r)));
    for (const u of USERS) expect(sum(of((x) => x === u), total)).toBeLessThanOrEqual(LIMITS[TIER[u] as 'small' | 'big']);
    expect(sum(of((u) => GROUP[u] === 'g1'), total)).toBeLessThanOrEqual(LIMITS.g1);
    expect(sum(of((u) => PROJECT[u] === 'pa'), total)).toBeLessThanOrEqual(LIMITS.pa);
    expect(sum(ok, total)).toBeLessThanOrEqual(LIMITS.org);
    expect(sum(ok, (r) => r.usage!.input)).toBeLessThanOrEqual(LIMITS.routeInput);
    expect(sum(ok, (r) => r.usage!.output)).toBeLessThanOrEqual(LIMITS.routeOutput);
    // The limits did bind, at several levels: refusals name them.
    const named = new Set(results.filter((r) => r.status === 429).map((r) => r.limit?.split(':')[0]));
    expect(named.size).toBeGreaterThanOrEqual(3);

    // Drift 0: once the last settlements have landed (responses do not wait for them), each Redis counter
    // equals the sum of the settled usage of its members.
    await until(async () => (await openRecords(redis, org)).length === 0);
    const key = (part: string): string => `tg:{${org}}:${part}`;
    const expected: Array<[string, number]> = [
      [key('org:daily:fixed_window'), sum(ok, total)],
      ...['pa', 'pb'].map((p): [string, number] => [key(`project:${p}:daily:fixed_window`), sum(ok.filter((r) => PROJECT[userOf(r)] === p), total)]),
      ...USERS.map((u): [string, number] => [key(`user:${u}:daily:fixed_window`), sum(ok.filter((r) => userOf(r) === u), total)]),
      [key('group:g1:daily:fixed_window'), sum(ok.filter((r) => GROUP[userOf(r)] === 'g1'), total)],
      [key('route:r:input:fixed_window'), sum(ok, (r) => r.usage!.input)],
      [key('route:r:output:sliding_window'), sum(ok, (r) => r.usage!.output)],
    ];
    for (const [k, want] of expected) expect({ key: k, used: await readCounter(redis, k) }).toEqual({ key: k, used: want });
    for (const g of fleet.gateways) {
      expect(g.child.exitCode).toBeNull();
      expect(g.output()).not.toMatch(/CROSSSLOT|counter store (unreachable|refused)/);
    }
  }, 60_000);

  it('a restarted gateway keeps counting where the others are: the counters live in Redis', async () => {
    const orgKey = `tg:{${org}}:org:daily:fixed_window`;
    const before = await readCounter(redis, orgKey);
    expect(before).toBeGreaterThan(0);
    await fleet.restart(0);
    // Its start-up rebuild from the ledger takes the larger value, so it changes nothing here.
    expect(await readCounter(redis, orgKey)).toBe(before);
    const [r] = await releaseTogether([fleet.urls[0]], [[{ key: 'tg-u5', body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, mock_output_tokens: 5 } }]]);
    expect([200, 429]).toContain(r.status);
    await until(async () => (await readCounter(redis, orgKey)) === before + (r.status === 200 ? total(r) : 0));
  }, 30_000);
});
