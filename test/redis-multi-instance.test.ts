// Three gateway processes sharing one Redis (then a 3-node Redis Cluster), 600 requests released together
// from three client processes for three organizations, against hard limits at every level: overshoot 0 for
// every limit of every organization, Redis counters equal to the settled usage after quiesce (drift 0), no
// reservation left open, no CROSSSLOT. In the cluster the three organizations' hash tags (`tg:{<org>}`) are
// picked to live on three different nodes, so every gateway talks to every node during the burst.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from './helpers/redis-servers.js';
import { releaseTogether, startFleet, type Fleet, type LoadRequest, type LoadResult } from './helpers/redis-fleet.js';
import { families, scrapeText, sum as seriesSum } from './helpers/prometheus-scrape.js';
import { readCounter } from './helpers/redis-counters.js';
import { until } from './helpers/until.js';

const ORG_COUNT = 3;
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
const PROJECT: Record<string, string> = { u0: 'pa', u1: 'pa', u2: 'pa', u3: 'pb', u4: 'pb', u5: 'pb' };
const TIER: Record<string, string> = { u0: 'small', u1: 'small', u2: 'big', u3: 'big', u4: 'big', u5: 'big' };
const GROUP: Record<string, string | undefined> = { u3: 'g1', u4: 'g1' };
// Every organization has the same six users, and every limit is counted per organization (its keys carry the
// organization's hash tag), so each organization sees about 200 requests (100 rounds of six users split over
// three organizations), 33 or 34 per user. Layered so that each level binds for part of each organization's
// traffic (a full request reserves ~57 tokens): the small tier's users after ~5 requests each, group g1 after
// ~14, project pa after ~21 (about 30, 42 and 50 admitted calls in round-robin order), then the organization
// after ~58 (3300 / 57), when u5 (the only user left) has had about 20 of its 33. The organization binds well
// after the others because a refusal names the organization once it is exhausted too: with it close behind
// them, an unlucky arrival order left too few refusals naming the lower levels (one CI run saw only two levels
// named). The route's input and output limits sit just above what the organization lets through (~1000 input
// and ~2300 output tokens reserved), so they hold but do not refuse first.
const LIMITS = { small: 300, big: 100_000, g1: 800, pa: 1200, pb: 100_000, org: 3300, routeInput: 2000, routeOutput: 2600 };
const MAX_TOKENS = 40;

function config(orgs: string[], storeUrl: string, mockUrl: string, leaseMs: number): string {
  return `
server: {timezone: UTC}
# A generous timeout: this test is about exactness under load, not about a slow store.
storage: {counters: "${storeUrl}", instances: 3, on_store_error: fail_closed, timeout_ms: 2000, lease_ms: ${leaseMs}}
providers: {up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}}
organizations:
${[...orgs, pacedOrg(orgs)].map((o) => `  ${o}: {daily_cap: ${LIMITS.org}}`).join('\n')}
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
${orgs
  .flatMap((o) => USERS.map((u) => `  - {id: ${o}-${u}, key: ${keyOf(o, u)}, organization: ${o}, user: ${u}, tier: ${TIER[u]}, project: ${PROJECT[u]}${GROUP[u] ? `, groups: [${GROUP[u]}]` : ''}}`))
  .join('\n')}
  - {id: paced-u5, key: ${keyOf(pacedOrg(orgs), 'u5')}, organization: ${pacedOrg(orgs)}, user: u5, tier: big, project: pb}
`;
}

/** An organization of its own for the paced run (one user, u5, whose own limits are roomy). */
const pacedOrg = (orgs: string[]): string => `${orgs[0]}p`;

const keyOf = (org: string, user: string): string => `tg-${org}-${user}`;

/**
 * 3 clients × 200 requests; request n goes to user n mod 6 of organization ⌊n / 6⌋ mod 3, so each organization
 * gets its users in round-robin order. Three in four use their whole allowance (so a race would show), the rest
 * a random part.
 */
function workload(orgs: string[]): LoadRequest[][] {
  return [0, 1, 2].map((c) =>
    Array.from({ length: 200 }, (_, i) => {
      const n = c * 200 + i;
      const user = USERS[n % USERS.length];
      const org = orgs[Math.floor(n / USERS.length) % orgs.length];
      const out = i % 4 === 0 ? Math.floor(Math.random() * (MAX_TOKENS + 1)) : MAX_TOKENS;
      return { key: keyOf(org, user), body: { model: 'gpt-4o', messages: [{ role: 'user', content: `Request ${c}-${i}: count to three.` }], max_tokens: MAX_TOKENS, mock_output_tokens: out } };
    }),
  );
}

const sum = (rs: LoadResult[], f: (r: LoadResult) => number): number => rs.reduce((s, r) => s + f(r), 0);
const total = (r: LoadResult): number => r.usage!.input + r.usage!.output;
const orgOf = (r: LoadResult): string => r.key.split('-')[1];
const userOf = (r: LoadResult): string => r.key.split('-')[2];

/** Waits until midnight UTC is more than a minute away, so the daily windows cannot roll mid-test. */
async function awayFromMidnight(): Promise<void> {
  const msToMidnight = 86_400_000 - (Date.now() % 86_400_000);
  if (msToMidnight < 60_000) await new Promise((r) => setTimeout(r, msToMidnight + 1000));
}

async function openRecords(redis: Redis | Cluster, org: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const keys: string[] = [];
  for (const node of nodes) keys.push(...(await node.keys(`tg:{${org}}:res:*`)));
  return keys;
}

/** The master (host:port) that owns the slot of an organization's hash tag. */
async function nodeOf(cluster: Cluster, org: string): Promise<string> {
  const slot = await cluster.cluster('KEYSLOT', `tg:{${org}}`);
  const ranges = (await cluster.cluster('SLOTS')) as unknown as Array<[number, number, [string, number, ...unknown[]]]>;
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  if (!range) throw new Error(`no node owns slot ${slot}`);
  return `${range[2][0]}:${range[2][1]}`;
}

/**
 * Organization names for one run. In a cluster, candidates are taken until each master owns one of them
 * (their hash tags land on different nodes); on one server the first names do.
 */
async function pickOrgs(redis: Redis | Cluster): Promise<string[]> {
  const base = `mi${Math.random().toString(36).slice(2, 8)}`;
  const orgs: string[] = [];
  const nodes = new Set<string>();
  for (let i = 0; orgs.length < ORG_COUNT; i++) {
    if (i > 1000) throw new Error('could not spread the organizations over the cluster nodes');
    const org = `${base}o${i}`;
    const node = redis instanceof Cluster ? await nodeOf(redis, org) : org;
    if (nodes.has(node)) continue;
    nodes.add(node);
    orgs.push(org);
  }
  return orgs;
}

describe.each([
  ['one Redis', false, 0],
  ['a 3-node Redis Cluster', true, 0],
  // Each instance admits a busy limit's requests against a slice of it reserved ahead (storage.lease_ms).
  ['one Redis, with budget leases', false, 500],
])('3 gateway instances sharing %s', (_name, clustered, leaseMs) => {
  let server: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  let fleet: Fleet;
  let redis: Redis | Cluster;
  let orgs: string[];

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
    orgs = await pickOrgs(redis);
    fleet = await startFleet(3, (mockUrl) => config(orgs, url, mockUrl, leaseMs));
  }, 60_000);
  afterAll(async () => {
    await fleet?.stop();
    await redis?.quit();
    await Promise.all([server?.stop(), cluster?.stop()]);
  });

  it('600 requests for 3 organizations released together: every limit of every organization holds exactly, counters equal settled usage, nothing left open', async () => {
    await fleet.clearUpstream();
    const results = await releaseTogether(fleet.urls, workload(orgs));
    expect(results).toHaveLength(600);
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    // Only admitted (200) or refused by a limit (429): no 503 (store errors, CROSSSLOT), no 500.
    expect([...statuses.keys()].sort()).toEqual([200, 429]);
    const ok = results.filter((r) => r.status === 200);
    expect((await fleet.upstreamRequests()).length).toBe(ok.length);

    const openAll = async (): Promise<number> => (await Promise.all(orgs.map((o) => openRecords(redis, o)))).reduce((n, keys) => n + keys.length, 0);
    // Drift 0 needs the last settlements to have landed (responses do not wait for them).
    await until(async () => (await openAll()) === 0);
    const diagnostics: string[] = [];
    for (const org of orgs) {
      const mine = results.filter((r) => orgOf(r) === org);
      const okOf = ok.filter((r) => orgOf(r) === org);
      expect(okOf.length).toBeGreaterThan(20);
      // Each organization's limits bound too.
      expect(mine.some((r) => r.status === 429), `${org} refused something`).toBe(true);

      // Overshoot 0 at every level: the settled tokens of each limit's members never exceed it.
      const of = (pred: (u: string) => boolean): LoadResult[] => okOf.filter((r) => pred(userOf(r)));
      for (const u of USERS) expect(sum(of((x) => x === u), total), `${org} user ${u}`).toBeLessThanOrEqual(LIMITS[TIER[u] as 'small' | 'big']);
      expect(sum(of((u) => GROUP[u] === 'g1'), total), `${org} group g1`).toBeLessThanOrEqual(LIMITS.g1);
      expect(sum(of((u) => PROJECT[u] === 'pa'), total), `${org} project pa`).toBeLessThanOrEqual(LIMITS.pa);
      expect(sum(of((u) => PROJECT[u] === 'pb'), total), `${org} project pb`).toBeLessThanOrEqual(LIMITS.pb);
      expect(sum(okOf, total), `${org} organization`).toBeLessThanOrEqual(LIMITS.org);
      expect(sum(okOf, (r) => r.usage!.input), `${org} route input`).toBeLessThanOrEqual(LIMITS.routeInput);
      expect(sum(okOf, (r) => r.usage!.output), `${org} route output`).toBeLessThanOrEqual(LIMITS.routeOutput);

      // Drift 0: each of the organization's Redis counters equals the sum of the settled usage of its members.
      const key = (part: string): string => `tg:{${org}}:${part}`;
      const expected: Array<[string, number]> = [
        [key('org:daily:fixed_window'), sum(okOf, total)],
        ...['pa', 'pb'].map((p): [string, number] => [key(`project:${p}:daily:fixed_window`), sum(of((u) => PROJECT[u] === p), total)]),
        ...USERS.map((u): [string, number] => [key(`user:${u}:daily:fixed_window`), sum(of((x) => x === u), total)]),
        [key('group:g1:daily:fixed_window'), sum(of((u) => GROUP[u] === 'g1'), total)],
        [key('route:r:input:fixed_window'), sum(okOf, (r) => r.usage!.input)],
        [key('route:r:output:sliding_window'), sum(okOf, (r) => r.usage!.output)],
      ];
      for (const [k, want] of expected) expect({ key: k, used: await readCounter(redis, k) }).toEqual({ key: k, used: want });

      const byLevel = new Map<string, number>();
      for (const r of mine) if (r.status === 429) byLevel.set(r.limit ?? '?', (byLevel.get(r.limit ?? '?') ?? 0) + 1);
      diagnostics.push(`${org}: ok ${okOf.length} tokens ${sum(okOf, total)} in ${sum(okOf, (r) => r.usage!.input)} out ${sum(okOf, (r) => r.usage!.output)} refused ${JSON.stringify(Object.fromEntries(byLevel))}`);
    }
    // The limits did bind, at several levels: refusals name them.
    const named = new Set(results.filter((r) => r.status === 429).map((r) => r.limit?.split(':')[0]));
    expect(named.size, diagnostics.join('\n')).toBeGreaterThanOrEqual(3);

    if (redis instanceof Cluster) {
      // The organizations really are spread over the cluster: each one's counters sit on one master, a
      // different master for each, so the burst crossed nodes and slots.
      const masters = redis.nodes('master');
      const holders = await Promise.all(
        orgs.map(async (org) => {
          const has = await Promise.all(masters.map(async (m) => (await m.keys(`tg:{${org}}:org:*`)).length > 0));
          return masters.filter((_, i) => has[i]).map((m) => `${m.options.host}:${m.options.port}`);
        }),
      );
      for (const h of holders) expect(h).toHaveLength(1);
      expect(new Set(holders.map((h) => h[0])).size).toBe(ORG_COUNT);
    }
    for (const g of fleet.gateways) {
      expect(g.child.exitCode).toBeNull();
      expect(g.output()).not.toMatch(/CROSSSLOT|counter store (unreachable|refused)/);
    }
  }, 60_000);

  it.runIf(leaseMs > 0)('paced requests from 3 clients: many are admitted against leases, every limit still holds, the counters end at the settled usage', async () => {
    const org = pacedOrg(orgs);
    const perClient = [0, 1, 2].map((c) =>
      Array.from({ length: 150 }, (_, i): LoadRequest => {
        const out = Math.floor(Math.random() * (MAX_TOKENS + 1));
        return { key: keyOf(org, 'u5'), body: { model: 'gpt-4o', messages: [{ role: 'user', content: `Paced ${c}-${i}: count to three.` }], max_tokens: MAX_TOKENS, mock_output_tokens: out } };
      }),
    );
    // 750 requests/s over the three gateways for 0.6 s.
    const results = await releaseTogether(fleet.urls, perClient, 4);
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([200, 429]));
    const ok = results.filter((r) => r.status === 200);
    const admissions = async (): Promise<number[]> =>
      Promise.all(fleet.urls.map(async (url) => seriesSum(families(await scrapeText(url)).get('tollgate_counter_lease_admissions_total'))));
    const local = (await admissions()).reduce((a, b) => a + b, 0);
    // The output limit binds (2,600 tokens at 40 reserved a call), the leases shrinking as it nears.
    expect(local, `${local} of ${ok.length} admitted against leases`).toBeGreaterThan(ok.length / 4);
    expect(sum(ok, (r) => r.usage!.output)).toBeLessThanOrEqual(LIMITS.routeOutput);
    expect(sum(ok, (r) => r.usage!.input)).toBeLessThanOrEqual(LIMITS.routeInput);
    expect(sum(ok, total)).toBeLessThanOrEqual(LIMITS.org);

    // Once every lease is handed back (lease_ms), the counters hold exactly the settled usage.
    const leasesHeld = async (): Promise<number> =>
      (await Promise.all(fleet.urls.map(async (url) => seriesSum(families(await scrapeText(url)).get('tollgate_counter_leases'))))).reduce((a, b) => a + b, 0);
    await until(async () => (await leasesHeld()) === 0 && (await openRecords(redis, org)).length === 0);
    const key = (part: string): string => `tg:{${org}}:${part}`;
    expect(await readCounter(redis, key('org:daily:fixed_window'))).toBe(sum(ok, total));
    expect(await readCounter(redis, key('user:u5:daily:fixed_window'))).toBe(sum(ok, total));
    expect(await readCounter(redis, key('route:r:input:fixed_window'))).toBe(sum(ok, (r) => r.usage!.input));
    expect(await readCounter(redis, key('route:r:output:sliding_window'))).toBe(sum(ok, (r) => r.usage!.output));
  }, 30_000);

  it('a restarted gateway keeps counting where the others are: the counters live in Redis', async () => {
    const orgKey = `tg:{${orgs[0]}}:org:daily:fixed_window`;
    const before = await readCounter(redis, orgKey);
    expect(before).toBeGreaterThan(0);
    await fleet.restart(0);
    // Its start-up rebuild from the ledger takes the larger value, so it changes nothing here.
    expect(await readCounter(redis, orgKey)).toBe(before);
    // One call, straight from here: a load client's start line (releaseTogether) only adds its 1.5 s lead.
    const res = await fetch(`${fleet.urls[0]}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keyOf(orgs[0], 'u5')}` },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, mock_output_tokens: 5 }),
    });
    const answer = (await res.json()) as { usage?: { prompt_tokens: number; completion_tokens: number } };
    expect([200, 429]).toContain(res.status);
    const spent = res.status === 200 ? answer.usage!.prompt_tokens + answer.usage!.completion_tokens : 0;
    await until(async () => (await readCounter(redis, orgKey)) === before + spent);
  }, 30_000);
});
