// The Redis store sends the script calls of one turn of the event loop together (script-batcher.ts):
// checked on a private redis-server by the writes on the store's socket, the script calls Redis counts,
// and the order Redis applies them in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { CounterItem } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { usePrivateRedis } from './helpers/redis-servers.js';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const server = usePrivateRedis();
let raw: Redis;
let store: RedisCounterStore;
/** Writes on the store's connection to Redis so far (system calls, not calls of socket.write). */
let socketWrites = 0;

beforeAll(async () => {
  raw = new Redis(server.url);
  const client = createRedisClient(server.url, 1000);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  // What reaches the socket's handle, one system call each: a corked socket hands several writes over
  // at once (_writev), an uncorked one each (_write).
  const socket = (client as Redis).stream as Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  for (const method of ['_write', '_writev'] as const) {
    const original = socket[method];
    socket[method] = function (this: typeof socket, ...args: unknown[]) {
      socketWrites++;
      return original.apply(this, args);
    };
  }
  const clock = new ManualClock(T0);
  store = new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, timeOverride: clock });
}, 30_000);
afterAll(async () => {
  await store?.close();
  await raw?.quit();
});

let orgs = 0;
function limitFor(max: number): CounterItem {
  const org = `b${++orgs}`;
  return { key: `tg:{${org}}:org:daily:fixed_window`, algorithm: 'fixed_window', window: { kind: 'duration', ms: 3_600_000 }, max, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
}

/** Writes on the store's socket, and script calls (EVALSHA + EVAL) as Redis counts them. */
async function counts(): Promise<{ writes: number; scripts: number }> {
  const writes = socketWrites;
  const commands = await raw.info('commandstats');
  const scripts = [...commands.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  return { writes, scripts };
}

describe('script calls of one turn of the event loop', () => {
  it('go out at once while nothing waits for Redis, and wait for the end of the turn while something does', async () => {
    const limit = limitFor(10_000);
    await store.reserve({ id: 'w', items: [limit], input: 1, output: 1, clamp: false, minOutput: 1 });
    const before = socketWrites;
    const first = store.reserve({ id: 'n1', items: [limit], input: 1, output: 1, clamp: false, minOutput: 1 });
    expect(socketWrites).toBe(before + 1);
    const second = store.reserve({ id: 'n2', items: [limit], input: 1, output: 1, clamp: false, minOutput: 1 });
    expect(socketWrites).toBe(before + 1);
    await Promise.all([first, second]);
    expect(socketWrites).toBe(before + 2);
    await Promise.all(['w', 'n1', 'n2'].map((id) => store.settle(id, { input: 1, output: 1, request: 1 })));
  });

  it('go out together: the first of 20 reservations at once, the other 19 in one write; the same for 20 settlements', async () => {
    const limit = limitFor(10_000);
    // The first call loads the script on the connection (EVAL); measure what follows.
    await store.reserve({ id: 'warm', items: [limit], input: 1, output: 1, clamp: false, minOutput: 1 });
    await store.settle('warm', { input: 0, output: 0, request: 0 });

    const ids = Array.from({ length: 20 }, (_, i) => `r${i}`);
    const before = await counts();
    const outcomes = await Promise.all(ids.map((id) => store.reserve({ id, items: [limit], input: 10, output: 20, clamp: false, minOutput: 1 })));
    const reserved = await counts();
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(reserved.scripts - before.scripts).toBe(20); // still one script call per reservation
    expect(reserved.writes - before.writes).toBe(2);

    await Promise.all(ids.map((id) => store.settle(id, { input: 10, output: 5, request: 1 })));
    const settled = await counts();
    expect(settled.scripts - reserved.scripts).toBe(2);
    expect(settled.writes - reserved.writes).toBe(2);
    expect(await raw.hget(limit.key, 'u')).toBe(String(20 * 15));
    expect(await raw.keys(`${limit.key.slice(0, limit.key.indexOf('}') + 1)}:res:*`)).toEqual([]);
    expect(await store.openReservations()).toBe(0);
  });

  it('keep their order: a reservation made after a settlement in the same turn sees it', async () => {
    const limit = limitFor(100);
    const first = await store.reserve({ id: 'a', items: [limit], input: 10, output: 50, clamp: false, minOutput: 1 });
    expect(first.ok).toBe(true);
    // 60 of 100 reserved; settled at 15, which leaves room for the next 80, but only if applied first.
    const settling = store.settle('a', { input: 10, output: 5, request: 1 });
    const second = await store.reserve({ id: 'b', items: [limit], input: 10, output: 70, clamp: false, minOutput: 1 });
    await settling;
    expect(second.ok).toBe(true);
    expect(second.states[0]!.used).toBe(95);
    expect(await raw.hget(limit.key, 'u')).toBe('95');
  });

  it('settlements of different organizations and batches over the size limit still land exactly once each', async () => {
    const limits = [limitFor(1_000_000), limitFor(1_000_000)];
    const ids = Array.from({ length: 150 }, (_, i) => `m${i}`);
    await Promise.all(ids.map((id, i) => store.reserve({ id, items: [limits[i % 2]!], input: 3, output: 7, clamp: false, minOutput: 1 })));
    const before = await counts();
    await Promise.all(ids.map((id) => store.settle(id, { input: 3, output: 1, request: 1 })));
    const after = await counts();
    // The first goes at once; then 74 and 75 per organization, in batches of at most 64: two script calls each.
    expect(after.scripts - before.scripts).toBe(5);
    for (const l of limits) expect(await raw.hget(l.key, 'u')).toBe(String(75 * 4));
    // Settling again changes nothing: the records are gone.
    await Promise.all(ids.map((id) => store.settle(id, { input: 3, output: 7, request: 1 })));
    for (const l of limits) expect(await raw.hget(l.key, 'u')).toBe(String(75 * 4));
  });
});

describe('scripts Redis does not hold', () => {
  /** Script calls by SHA1 and by text, as Redis counts them. */
  async function byKind(): Promise<{ evalsha: number; eval: number }> {
    const info = await raw.info('commandstats');
    const calls = (name: string): number => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    return { evalsha: calls('evalsha'), eval: calls('eval') };
  }

  it('are sent by SHA1 once loaded; after SCRIPT FLUSH (a restarted Redis) each call is sent again by its text and lands once', async () => {
    const limit = limitFor(1_000_000);
    await store.reserve({ id: 'load', items: [limit], input: 1, output: 1, clamp: false, minOutput: 1 });
    await store.settle('load', { input: 1, output: 1, request: 1 });
    const loaded = await byKind();
    await store.reserve({ id: 'sha', items: [limit], input: 1, output: 1, clamp: false, minOutput: 1 });
    await store.settle('sha', { input: 1, output: 1, request: 1 });
    const bySha = await byKind();
    expect(bySha).toEqual({ evalsha: loaded.evalsha + 2, eval: loaded.eval });

    await raw.script('FLUSH');
    // One reservation alone, then 20 at once (the first alone, the others in one write): every one
    // meets NOSCRIPT, is sent again as EVAL, and counts exactly once; the same for their settlements.
    const ids = Array.from({ length: 21 }, (_, i) => `f${i}`);
    const first = await store.reserve({ id: ids[0]!, items: [limit], input: 10, output: 20, clamp: false, minOutput: 1 });
    await raw.script('FLUSH');
    const rest = await Promise.all(ids.slice(1).map((id) => store.reserve({ id, items: [limit], input: 10, output: 20, clamp: false, minOutput: 1 })));
    expect([first, ...rest].every((o) => o.ok)).toBe(true);
    expect(await raw.hget(limit.key, 'u')).toBe(String(2 * 2 + 21 * 30));
    await raw.script('FLUSH');
    await Promise.all(ids.map((id) => store.settle(id, { input: 10, output: 5, request: 1 })));
    expect(await raw.hget(limit.key, 'u')).toBe(String(2 * 2 + 21 * 15));
    expect(await raw.keys(`${limit.key.slice(0, limit.key.indexOf('}') + 1)}:res:*`)).toEqual([]);
    expect((await byKind()).eval).toBeGreaterThan(bySha.eval);
  });
});

describe('a Redis Cluster that does not answer', () => {
  it('refuses batched calls at once instead of holding them until it next connects', async () => {
    // Accepts connections and never answers, like a hung node: the client never learns the slot map.
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const client = createRedisClient(`redis-cluster://127.0.0.1:${port}`, 100);
    const down = new RedisCounterStore(client, { timezone: 'UTC', clock: new ManualClock(T0), reservationTtlMs: 60_000 });
    try {
      await new Promise((r) => setTimeout(r, 50));
      const limit = limitFor(1000);
      const started = performance.now();
      // The first goes at once; the others, made while it is in flight, leave together at the end of the turn.
      const outcomes = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) => down.reserve({ id: `d${i}`, items: [limit], input: 1, output: 1, clamp: false, minOutput: 1 })),
      );
      expect(outcomes.map((o) => o.status)).toEqual(Array(5).fill('rejected'));
      expect(performance.now() - started).toBeLessThan(200);
    } finally {
      client.disconnect();
      silent.close();
    }
  });
});
