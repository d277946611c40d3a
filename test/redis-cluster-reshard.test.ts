// Live resharding of a Redis Cluster under load: the slot of an organization's hash tag moves to another
// node (CLUSTER SETSLOT IMPORTING / MIGRATING, MIGRATE key by key, SETSLOT NODE) while a gateway admits
// that organization's requests against a hard limit. While the slot is split, a reservation's script
// (several keys, one of them the new reservation record) cannot run on either node: the source answers
// ASK, the target TRYAGAIN; ioredis retries those within `storage.timeout_ms`, and a request still
// waiting then gets the store's failure behaviour like any other store error (fail_closed: 503; fail_open:
// local counters, replayed after). Checked: no overshoot of the limit, the counter equal to the settled
// usage afterwards (drift 0), and refusals only while the slot was moving, each within the timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { createMockUpstream } from '../src/mock-upstream/index.js';
import { servedAtMidday } from './helpers/midday-zone.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { startRedisCluster, type RedisCluster } from './helpers/redis-servers.js';
import { readCounter } from './helpers/redis-counters.js';
import type { CallSample } from './helpers/redis-fleet.js';

const TIMEOUT_MS = 250;
const LIMIT = 20_000; // tokens a day for the project: binds after the migration, at this load
const LOOPS = 6;
/** Between two keys moved: long enough for requests to wait past the timeout while the slot is split. */
const KEY_PAUSE_MS = 400;
const ORG = 'acme';
const COUNTER = `tg:{${ORG}}:project:p:daily:fixed_window`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(['fail_closed', 'fail_open'] as const)('%s', (mode) => {
  let cluster: RedisCluster;
  let upstream: ReturnType<typeof createMockUpstream>;
  let gateway: RunningProcess;
  let nodes: Redis[];

  beforeAll(async () => {
    cluster = await startRedisCluster();
    nodes = cluster.ports.map((port) => new Redis(port, '127.0.0.1'));
    upstream = createMockUpstream({ latencyMs: 5, outputTokens: 20 });
    const mockUrl = await upstream.listen(0, '127.0.0.1');
    gateway = await startCli(['serve', '--port', '0', '--config', writeConfig(servedAtMidday(`
storage: {counters: "${cluster.url}", on_store_error: ${mode}, timeout_ms: ${TIMEOUT_MS}}
providers: {up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}}
organizations: {${ORG}: {}}
projects: {p: {daily_limit: ${LIMIT}}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}}
keys: [{id: k, key: tg-k, organization: ${ORG}, project: p}]
`))]);
  }, 30_000);
  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
    nodes?.forEach((n) => n.disconnect());
    await cluster?.stop();
  });

  /** Moves `slot` from node `from` to node `to` the way `redis-cli --cluster reshard` does, a key at a time. */
  async function migrateSlot(slot: number, from: Redis, to: Redis, toPort: number): Promise<number> {
    const fromId = (await from.call('CLUSTER', 'MYID')) as string;
    const toId = (await to.call('CLUSTER', 'MYID')) as string;
    await to.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
    await from.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
    let moved = 0;
    for (;;) {
      const keys = (await from.call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      if (keys.length === 0) break;
      for (const key of keys) {
        await from.call('MIGRATE', '127.0.0.1', toPort, '', 0, 5000, 'KEYS', key);
        moved++;
        await sleep(KEY_PAUSE_MS); // the slot stays split a while: requests arrive meanwhile
      }
    }
    // The target first, so the slot is never owned by no one (as redis-cli does it).
    for (const n of [to, from, ...nodes.filter((x) => x !== to && x !== from)]) await n.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    return moved;
  }

  it('moves an organization\'s slot under load: no overshoot, drift 0, refusals only while it moves', async () => {
    const slot = (await nodes[0].call('CLUSTER', 'KEYSLOT', `tg:{${ORG}}`)) as number;
    const ownerPort = async (): Promise<number> => {
      const ranges = (await nodes[0].call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
      return ranges.find(([lo, hi]) => slot >= lo && slot <= hi)![2][1];
    };
    const fromPort = await ownerPort();
    const from = nodes[cluster.ports.indexOf(fromPort)];
    const toPort = cluster.ports.find((p) => p !== fromPort)!;
    const to = nodes[cluster.ports.indexOf(toPort)];

    const samples: CallSample[] = [];
    let running = true;
    const loop = async (): Promise<void> => {
      while (running) {
        const sentAt = Date.now();
        const res = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
        });
        const body = (await res.json()) as { usage?: { total_tokens: number }; error?: { code: string } };
        samples.push({ status: res.status, code: body.error?.code, sentAt, ms: Date.now() - sentAt, tokens: res.status === 200 ? body.usage!.total_tokens : 0 });
        if (res.status !== 200) await sleep(10);
      }
    };
    const done = Promise.all(Array.from({ length: LOOPS }, loop));
    let migration = { startedAt: 0, endedAt: 0, moved: 0 };
    try {
      await sleep(500);
      const startedAt = Date.now();
      const moved = await migrateSlot(slot, from, to, toPort);
      migration = { startedAt, endedAt: Date.now(), moved };
      // Until the limit binds (and a little longer), so the limit is reached on the new node.
      const deadline = Date.now() + 30_000;
      while (!samples.some((s) => s.status === 429 && s.sentAt > migration.endedAt) && Date.now() < deadline) await sleep(50);
      await sleep(300);
    } finally {
      running = false;
      await done;
    }
    await sleep(500); // the last settlements reach Redis

    expect(await ownerPort()).toBe(toPort);
    expect(migration.moved).toBeGreaterThan(1); // the counter, the presence key, reservation records
    expect(await to.exists(COUNTER)).toBe(1);

    const admitted = samples.filter((s) => s.status === 200);
    const during = samples.filter((s) => s.sentAt >= migration.startedAt && s.sentAt <= migration.endedAt);
    const spent = admitted.reduce((n, s) => n + s.tokens, 0);
    const client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
    try {
      // No overshoot, and the counter is exactly the settled usage.
      expect(spent).toBeLessThanOrEqual(LIMIT);
      expect(samples.some((s) => s.status === 429)).toBe(true);
      expect(await readCounter(client, COUNTER)).toBe(spent);
    } finally {
      client.disconnect();
    }
    // Only 200, 429 (the limit) and, while the slot moved, 503 store_unavailable within the timeout
    // (fail_open: none, the local counters admit).
    const refused = samples.filter((s) => s.status === 503);
    if (mode === 'fail_open') expect(refused).toEqual([]);
    expect(samples.filter((s) => ![200, 429, 503].includes(s.status))).toEqual([]);
    for (const s of refused) {
      expect(s.code).toBe('store_unavailable');
      expect(s.sentAt).toBeGreaterThanOrEqual(migration.startedAt - TIMEOUT_MS);
      expect(s.sentAt).toBeLessThanOrEqual(migration.endedAt + TIMEOUT_MS);
      expect(s.ms).toBeLessThan(TIMEOUT_MS + 500);
    }
    // The load went on while the slot moved (fail_closed: refused once a request waited the timeout for
    // the slot to settle; fail_open: every one admitted, locally then, and replayed exactly above).
    expect(during.length).toBeGreaterThan(LOOPS);
    for (const s of during) expect(s.ms).toBeLessThan(TIMEOUT_MS + 500);
    if (mode === 'fail_open') expect(during.every((s) => s.status === 200)).toBe(true);
  }, 60_000);
});
