// The Redis store behind Redis Sentinel, on real processes (a primary, a replica and three sentinels per
// setup): the counter-store contract, a failover under fail_open with the scripts the new primary lacks,
// and a failover that lost another instance's writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counterStoreContract } from '../src/limits/counter-store.contract.js';
import type { CounterItem } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { RESERVE_LUA } from '../src/limits/redis/lua-scripts.js';
import { Script } from '../src/limits/redis/script-call.js';
import { ResilientStore } from '../src/limits/resilient-store.js';
import { systemClock, type Clock } from '../src/util/clock.js';
import { loadPolicy } from '../src/config/index.js';
import { openCounterStore } from '../src/limits/open-counter-store.js';
import { writeConfig } from './helpers/processes.js';
import { ask, MASTER_NAME, startSentinelSetup, type SentinelSetup } from './helpers/redis-sentinel.js';
import { until } from './helpers/until.js';
import { startDelayProxy } from './helpers/redis-delay-proxy.js';
import { startRedisServer } from './helpers/redis-servers.js';
import { Redis } from 'ioredis';

const TIMEOUT_MS = 100;
let contract: SentinelSetup;
let failOpen: SentinelSetup;
let lostWrites: SentinelSetup;
const stores: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  [contract, failOpen, lostWrites] = await Promise.all([startSentinelSetup(), startSentinelSetup(), startSentinelSetup()]);
}, 30_000);
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close().catch(() => {})));
  await Promise.all([contract?.stop(), failOpen?.stop(), lostWrites?.stop()]);
});

async function sentinelStore(url: string, clock: Clock = systemClock, timezone = 'UTC', timeOverride?: Clock): Promise<RedisCounterStore> {
  const client = createRedisClient(url, TIMEOUT_MS);
  if (!(await waitReady(client, 5000))) throw new Error('no primary through the sentinels');
  const store = new RedisCounterStore(client, { timezone, clock, reservationTtlMs: 60_000, ...(timeOverride ? { timeOverride } : {}) });
  stores.push(store);
  return store;
}

function daily(org: string, max: number): CounterItem {
  return { key: `tg:{${org}}:daily:fixed_window`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
}
const uniqueOrg = (): string => `s${Math.random().toString(36).slice(2, 10)}`;
let seq = 0;
const id = (): string => `q${seq++}`;

counterStoreContract('redis sentinel', (clock, timezone) => sentinelStore(contract.url, clock, timezone, clock));

describe('Redis Sentinel start-up', () => {
  it('a master name the sentinels do not know is named as such in the start-up log', async () => {
    const logs: string[] = [];
    const log = { info: (obj: object, msg: string) => void logs.push(msg + JSON.stringify(obj)), warn: (obj: object, msg: string) => void logs.push(msg + JSON.stringify(obj)) };
    const url = contract.url.replace(`/${MASTER_NAME}`, '/no-such-master');
    const store = await openCounterStore(loadPolicy([writeConfig(`storage: {counters: "${url}", timeout_ms: 200}\n`)], {}), log);
    stores.push(store);
    expect(logs.find((l) => l.startsWith('counter store unreachable')), logs.join('\n')).toMatch(/No such master with that name/);
  });
});

describe('Redis Sentinel failover', () => {
  // The old primary stays up, still a primary until the sentinels convert it (8 s later): only their
  // +switch-master tells the client to leave it. Writes made there meanwhile would be lost.
  it('a manual failover (the old primary stays up): the client moves to the new primary at once', async () => {
    const store = await sentinelStore(contract.url);
    const items = [daily(uniqueOrg(), 1000)];
    expect((await store.reserve({ id: id(), items, input: 10, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    const oldPort = await contract.primaryPort();
    expect(await ask(contract.sentinelPorts[0]!, 'SENTINEL', 'FAILOVER', MASTER_NAME)).toBe('OK');
    const newPort = await contract.waitForFailover(oldPort);
    await until(async () => store.client.status === 'ready' && (store.client as { stream?: { remotePort?: number } }).stream?.remotePort === newPort, 2000);
    expect(((await ask(oldPort, 'ROLE')) as string[])[0]).toBe('master'); // not demoted yet
    // Replicated before the switch (nothing was lost), counted on after it.
    expect(await store.reserve({ id: id(), items, input: 10, output: 0, clamp: false, minOutput: 1 })).toMatchObject({ ok: true, states: [{ used: 20 }] });
  }, 30_000);

  // ioredis ends a client for good when it is told to disconnect while it waits for a sentinel's answer.
  it('a switch announced while the client is still asking a sentinel for the primary: the client gets there, it is not ended', async () => {
    // The client knows two sentinel addresses, both behind proxies that can make every answer slow: the first
    // sentinel, and a plain Redis whose +switch-master channel the test publishes on, as a sentinel would.
    // Both are slowed: a reconnection asks whichever address comes next in ioredis's list (it does not start
    // from the first again), and a slow question is what leaves the client waiting on a sentinel.
    // The client learns the other sentinels' addresses and may ask any of them: all must name the primary
    // (the previous test's failover may still be reaching them).
    const primary = await contract.agreedPrimaryPort();
    const proxy = await startDelayProxy(contract.sentinelPorts[0]!);
    const announcer = await startRedisServer();
    const announcerProxy = await startDelayProxy(announcer.port);
    const client = createRedisClient(`redis-sentinel://127.0.0.1:${proxy.port},127.0.0.1:${announcerProxy.port}/${MASTER_NAME}`, TIMEOUT_MS);
    client.on('error', () => {});
    // The test hears the announcement as the client does (through the same slow proxy): the client's status then.
    const listener = new Redis({ port: announcerProxy.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    listener.on('error', () => {});
    const heard = new Promise<string>((resolve) => listener.on('message', () => resolve(client.status)));
    try {
      expect(await waitReady(client, 5000)).toBe(true);
      // Ready first: a SUBSCRIBE sent before ioredis's ready check (INFO) makes the INFO fail, and the
      // connection is made again without the subscription.
      await listener.connect();
      await listener.subscribe('+switch-master');
      await until(async () => ((await ask(announcer.port, 'PUBSUB', 'NUMSUB', '+switch-master')) as [string, number])[1] === 2, 5000);
      proxy.setDelay(300);
      announcerProxy.setDelay(300);
      const connecting = new Promise<string>((resolve) => client.once('connecting', () => resolve(client.status)));
      (client as Redis).disconnect(true);
      expect(await connecting).toBe('connecting');
      // A late sentinel announces the primary the client is on its way to. It arrives 300 ms later; the
      // client's question to a sentinel takes 600 ms at least (300 ms each way).
      await ask(announcer.port, 'PUBLISH', '+switch-master', `${MASTER_NAME} 127.0.0.1 1 127.0.0.1 ${primary}`);
      expect(await heard).toBe('connecting');
      await until(() => client.status === 'ready' || client.status === 'end', 5000);
      expect(client.status).toBe('ready');
      expect((client as Redis).stream?.remotePort).toBe(primary);
    } finally {
      client.disconnect();
      listener.disconnect();
      await proxy.close();
      await announcerProxy.close();
      await announcer.stop();
    }
  }, 30_000);

  it('fail_open: counts locally during the switch, then shares counters on the new primary (scripts loaded there again) and replays exactly', async () => {
    const client = createRedisClient(failOpen.url, TIMEOUT_MS);
    expect(await waitReady(client, 5000)).toBe(true);
    const primary = new RedisCounterStore(client, { timezone: 'UTC', clock: systemClock, reservationTtlMs: 60_000 });
    const store = new ResilientStore(primary, { defaultMode: 'fail_open', instances: 1, timezone: 'UTC', clock: systemClock, log: { info: () => {}, warn: () => {} }, description: failOpen.url, probeIntervalMs: 50 });
    stores.push(store);
    const modes: string[] = [];
    store.onModeChange((m) => modes.push(m));
    const items = [daily(uniqueOrg(), 1_000_000)];
    let settled = 0;
    const call = async (): Promise<number> => {
      const q = id();
      const t0 = performance.now();
      const r = await store.reserve({ id: q, items, input: 10, output: 5, clamp: false, minOutput: 1 });
      const ms = performance.now() - t0;
      expect(r.ok).toBe(true);
      await store.settle(q, { input: 10, output: 3, request: 1 });
      settled += 13;
      return ms;
    };
    for (let i = 0; i < 5; i++) await call();
    const oldPort = await failOpen.primaryPort();
    // The replica never ran the reservation script: EVALSHA on the new primary answers NOSCRIPT.
    expect(await ask(failOpen.nodes.find((n) => n.port !== oldPort)!.port, 'SCRIPT', 'EXISTS', new Script(RESERVE_LUA).sha)).toEqual([0]);
    await failOpen.nodes.find((n) => n.port === oldPort)!.kill();
    const killedAt = Date.now();
    // Calls keep coming during the switch: each is answered within the timeout, from local counters.
    const latencies: number[] = [];
    const failover = failOpen.waitForFailover(oldPort);
    let newPort: number | undefined;
    void failover.then((p) => (newPort = p));
    while (newPort === undefined || store.mode !== 'ok') {
      latencies.push(await call());
      await new Promise((r) => setTimeout(r, 20));
      if (Date.now() - killedAt > 20_000) throw new Error('no failover within 20 s');
    }
    const recoveredMs = Date.now() - killedAt;
    expect(modes).toEqual(['fail_open', 'ok']);
    expect(Math.max(...latencies)).toBeLessThan(TIMEOUT_MS + 50);
    // The local usage is replayed into the new primary, exactly once.
    await until(() => store.backlog === 0, 5000);
    for (let i = 0; i < 5; i++) await call();
    expect((await store.peek(items))[0].used).toBe(settled);
    expect(await ask(newPort!, 'SCRIPT', 'EXISTS', new Script(RESERVE_LUA).sha)).toEqual([1]);
    console.log(`sentinel fail_open failover: shared counters again ${recoveredMs} ms after the kill, ${latencies.length} calls counted locally meanwhile`);
  }, 30_000);

  // Replication is asynchronous: a primary killed before its replica had another instance's writes takes
  // them along. This instance saw none of them, so no count of its own can show the loss.
  it("a failover that lost another instance's writes: counters rebuilt from the ledger before this instance admits more", async () => {
    const org = uniqueOrg();
    const limit = daily(org, 100);
    const [writer, other] = [await sentinelStore(lostWrites.url), await sentinelStore(lostWrites.url)];
    let ledgerUsed = 0; // what the ledger holds: the calls that finished
    const rebuilds = [0, 0];
    const rebuildOf = (store: RedisCounterStore, i: number) => async (): Promise<void> => {
      rebuilds[i]++;
      await store.restore([{ item: limit, used: ledgerUsed }]);
    };
    await writer.rebuildWhenLost([org], rebuildOf(writer, 0));
    await other.rebuildWhenLost([org], rebuildOf(other, 1));
    const oldPort = await lostWrites.primaryPort();
    const replicaPort = lostWrites.nodes.find((n) => n.port !== oldPort)!.port;
    await until(async () => ((await ask(replicaPort, 'EXISTS', `tg:{${org}}:present`)) as number) === 1, 3000);
    // Cut replication and keep it cut: the replica cannot log in again (the primary has no password).
    await ask(replicaPort, 'CONFIG', 'SET', 'masterauth', 'not-the-password');
    await ask(oldPort, 'CLIENT', 'KILL', 'TYPE', 'replica');
    await until(async () => String(await ask(replicaPort, 'INFO', 'replication')).includes('master_link_status:down'), 3000);
    expect((await writer.reserve({ id: 'w', items: [limit], input: 60, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    await writer.settle('w', { input: 60, output: 0, request: 1 });
    ledgerUsed = 60;
    expect(await ask(replicaPort, 'EXISTS', limit.key)).toBe(0); // the replica never got it

    await lostWrites.nodes.find((n) => n.port === oldPort)!.kill();
    expect(await lostWrites.waitForFailover(oldPort)).toBe(replicaPort);
    await until(async () => (await other.ping().then(() => true, () => false)), 5000);
    // Without the rebuild the day would start again at 0 and 41 would fit; with it, 40 is the most.
    const refused = await other.reserve({ id: 'o1', items: [limit], input: 41, output: 0, clamp: false, minOutput: 1 });
    expect(refused).toMatchObject({ ok: false, states: [{ used: 60 }] });
    expect(rebuilds[1]).toBe(1);
    expect((await other.reserve({ id: 'o2', items: [limit], input: 40, output: 0, clamp: false, minOutput: 1 })).ok).toBe(true);
    // Once: later calls do not rebuild again.
    expect((await other.reserve({ id: 'o3', items: [limit], input: 1, output: 0, clamp: false, minOutput: 1 })).ok).toBe(false);
    expect(rebuilds[1]).toBe(1);
  }, 30_000);
});
