// A Redis user whose ACL refuses a command the counters need: TIME (every counter script reads Redis's
// clock), EVAL / EVALSHA (every reservation is a script). Regression: the gateway logged "counters shared
// in Redis", reported the store `ok` on /metrics and health, and answered every call with 503 (Redis's
// "The user executing the script can't run this command", logged as "counter store refused a call",
// which names no command). Now the connection is checked when it becomes ready (at start-up and at each
// reconnection): a refused command makes the store unavailable, `on_store_error` applies, and the log names
// the commands and the ACL rule to add. Once the ACL allows them, the store is used again without a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadPolicy } from '../src/config/index.js';
import type { CounterItem, CounterStore } from '../src/limits/counter-store.js';
import { openCounterStore } from '../src/limits/open-counter-store.js';
import { StoreUnavailableError } from '../src/limits/store-errors.js';
import { writeConfig } from './helpers/processes.js';
import { freeRedisPort, startRedisCluster, startRedisServer, usePrivateRedis, type RedisCluster } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();
let admin: Redis;
beforeAll(async () => {
  admin = new Redis(redis.url);
});
afterAll(async () => {
  await admin?.quit();
});

const daily: CounterItem = { key: 'tg:{acl}:daily:fixed_window', algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 1000, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
const reserve = (store: CounterStore, id: string): ReturnType<CounterStore['reserve']> => store.reserve({ id, items: [daily], input: 10, output: 0, clamp: false, minOutput: 1 });

/** The store `storage.counters: url` opens, with every line it logged. */
async function open(url: string, onStoreError = 'fail_closed', timeoutMs = 100): Promise<{ store: CounterStore; logs: string[] }> {
  const logs: string[] = [];
  const log = { info: (obj: object, msg: string) => void logs.push(msg + JSON.stringify(obj)), warn: (obj: object, msg: string) => void logs.push(msg + JSON.stringify(obj)) };
  const policy = loadPolicy([writeConfig(`storage: {counters: "${url}", on_store_error: ${onStoreError}, timeout_ms: ${timeoutMs}}\n`)], {});
  return { store: await openCounterStore(policy, log), logs };
}

const userUrl = (user: string, port = redis.port): string => `redis://${user}:pw@127.0.0.1:${port}`;

describe('a Redis user that may not run TIME', () => {
  it('is named at start-up with the rule to add; the store is unavailable (fail_closed refuses, the mode says so), not "shared"', async () => {
    await admin.acl('SETUSER', 'notime', 'reset', 'on', '>pw', '~*', '&*', '+@all', '-time');
    const { store, logs } = await open(userUrl('notime'));
    try {
      expect(logs.join('\n')).not.toContain('counters shared in Redis');
      expect(logs.find((l) => l.startsWith('counter store unreachable'))).toMatch(/user notime may not run.*TIME.*ACL SETUSER notime \+time/);
      expect(store.mode).toBe('fail_closed'); // before: ok
      await expect(reserve(store, 't1')).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
    }
  });

  it('with fail_open: calls are admitted against local counters meanwhile; once the ACL allows TIME, the shared counters are used again', async () => {
    await admin.acl('SETUSER', 'latetime', 'reset', 'on', '>pw', '~*', '&*', '+@all', '-time');
    const { store, logs } = await open(userUrl('latetime'), 'fail_open');
    try {
      expect(store.mode).toBe('fail_open');
      expect((await reserve(store, 'o1')).ok).toBe(true);
      await admin.acl('SETUSER', 'latetime', '+time');
      await until(() => store.mode === 'ok', 5000);
      expect(logs.join('\n')).toContain('counter store reachable again');
      await until(async () => (await reserve(store, 'o2')).ok && (await admin.exists(daily.key)) === 1, 5000);
    } finally {
      await store.close();
    }
  });
});

describe('a Redis user that may not run scripts', () => {
  it('names EVAL and EVALSHA, as a user of only @read and @write also lacks TIME', async () => {
    await admin.acl('SETUSER', 'rw', 'reset', 'on', '>pw', '~*', '&*', '+@read', '+@write', '+@connection');
    const { store, logs } = await open(userUrl('rw'));
    try {
      expect(logs.find((l) => l.startsWith('counter store unreachable'))).toMatch(/EVAL, EVALSHA, TIME.*ACL SETUSER rw \+eval \+evalsha \+time/);
      expect(store.mode).toBe('fail_closed');
    } finally {
      await store.close();
    }
  });
});

describe('a Redis down at start-up that comes up with a user that may not run TIME', () => {
  it('is named once it answers, and stays unavailable', async () => {
    const port = await freeRedisPort();
    const { store, logs } = await open(userUrl('late', port));
    const late = await startRedisServer({ port, extraArgs: ['--user', 'late', 'on', '>pw', '~*', '&*', '+@all', '-time'] });
    try {
      expect(logs.find((l) => l.startsWith('counter store unreachable'))).toMatch(/ECONNREFUSED/);
      await until(() => logs.some((l) => l.startsWith('counter store answers but cannot count')), 5000);
      expect(logs.find((l) => l.startsWith('counter store answers but cannot count'))).toMatch(/user late may not run.*TIME.*\+time/);
      expect(logs.join('\n')).not.toContain('reachable again');
      expect(store.mode).toBe('fail_closed');
    } finally {
      await store.close();
      await late.stop();
    }
  });
});

describe('a command refused after start-up', () => {
  it('found at the next reconnection: the store becomes unavailable, with the same line', async () => {
    await admin.acl('SETUSER', 'laterefused', 'reset', 'on', '>pw', '~*', '&*', '+@all');
    const { store, logs } = await open(userUrl('laterefused'));
    try {
      expect(logs.join('\n')).toContain('counters shared in Redis');
      expect(store.mode).toBe('ok');
      await admin.acl('SETUSER', 'laterefused', '-evalsha');
      await admin.client('KILL', 'USER', 'laterefused');
      await until(() => store.mode === 'fail_closed', 5000);
      expect(logs.find((l) => l.startsWith('counter store unreachable'))).toMatch(/EVALSHA.*\+evalsha/);
    } finally {
      await store.close();
    }
  });

  it('refused by Redis on a connection that stays open: the store is unavailable, not "a call it refused" while it stays in use', async () => {
    await admin.acl('SETUSER', 'midway', 'reset', 'on', '>pw', '~*', '&*', '+@all');
    const { store } = await open(userUrl('midway'));
    try {
      expect((await reserve(store, 'm1')).ok).toBe(true);
      await admin.acl('SETUSER', 'midway', '-time');
      await expect(reserve(store, 'm2')).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(store.mode).toBe('fail_closed'); // before: ok, and every call a 503
    } finally {
      await store.close();
    }
  });
});

describe('on Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 30_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('each node whose user may not run a command is named (ACLs are per node), and the store is unavailable', async () => {
    const [first, second] = cluster.ports;
    // HSET of the check's key is refused before it would be redirected to the node that owns the key.
    const refused: Record<number, string[]> = { [first!]: ['-time'], [second!]: ['-hset'] };
    for (const port of cluster.ports) {
      const node = new Redis(port, '127.0.0.1');
      await node.acl('SETUSER', 'gw', 'reset', 'on', '>pw', '~*', '&*', '+@all', ...(refused[port] ?? []));
      await node.quit();
    }
    // Each node's check is a command under storage.timeout_ms: one slower than 100 ms on a busy host went unnamed.
    const { store, logs } = await open(`redis-cluster://gw:pw@${cluster.ports.map((p) => `127.0.0.1:${p}`).join(',')}`, 'fail_closed', 1000);
    try {
      const line = logs.find((l) => l.startsWith('counter store unreachable'));
      expect(line).toMatch(new RegExp(`127\\.0\\.0\\.1:${first}: the Redis user gw may not run[^;]*: TIME; allow them with ACL SETUSER gw \\+time`));
      expect(line).toMatch(new RegExp(`127\\.0\\.0\\.1:${second}: the Redis user gw may not run[^;]*: HSET; allow them with ACL SETUSER gw \\+hset`));
      expect(store.mode).toBe('fail_closed');
    } finally {
      await store.close();
    }
  });
});
