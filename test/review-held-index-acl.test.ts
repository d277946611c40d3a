// Review of the held index on a least-privilege Redis user: one allowed exactly the commands the connection
// check sends (src/limits/redis/command-permissions.ts) and the README lists. The index's scripts call
// HSET, HDEL, HGETALL and PEXPIRE (checked) and, under redis.pcall, PTTL, HLEN and HRANDFIELD (not checked):
// a refusal there must neither fail the reservation, the settlement or the restore, nor leave a write half
// done. This held (Redis 7.0.15); kept as a record of what was tried.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configuredLimits } from '../src/ledger/configured-limits.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { outputLimit } from './helpers/output-limit.js';

const CHECKED = ['eval', 'evalsha', 'time', 'set', 'get', 'incr', 'exists', 'pexpire', 'del', 'hset', 'hmget', 'hgetall', 'hdel'];
const CONNECT = ['ping', 'info', 'client', 'select', 'hello', 'script', 'config'];
const NOW = Date.UTC(2026, 10, 18, 10, 5);
const redis = usePrivateRedis();
let admin: Redis;
const stores: RedisCounterStore[] = [];
beforeAll(async () => {
  admin = new Redis(redis.url);
  await admin.acl('SETUSER', 'leastpriv', 'reset', 'on', '>pw', '~*', '&*', ...[...CHECKED, ...CONNECT].map((c) => `+${c}`));
});
afterAll(async () => {
  for (const store of stores) await store.close();
  await admin?.quit();
});

it.each(['fixed_window', 'sliding_window'])('reserve, note, settle and restore a %s counter as a user allowed only the checked commands', async (algorithm) => {
  await admin.flushall();
  const clock = new ManualClock(NOW - (NOW % 64)); // a time that also runs noteHeld's pruning (HRANDFIELD)
  const client = createRedisClient(`redis://leastpriv:pw@127.0.0.1:${redis.port}`, 2000);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  const store = new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, timeOverride: clock });
  stores.push(store);
  const [{ limit }] = configuredLimits(outputLimit(algorithm));
  expect((await store.reserve({ id: 'a', items: [limit.item], input: 0, output: 600, clamp: false, minOutput: 0 })).ok).toBe(true);
  expect(await admin.hexists('tg:{default}:held', 'tg:{default}:res:a')).toBe(1);
  expect(await admin.pttl('tg:{default}:held')).toBeGreaterThan(60_000);
  const restore = algorithm === 'fixed_window'
    ? { item: limit.item, used: 400, windowStartMs: NOW - (NOW % 3_600_000), settled: true }
    : { item: limit.item, used: 400, slots: [{ atMs: NOW - 60_000, used: 400 }], kept: true };
  await store.restore([restore]);
  expect((await store.peek([limit.item]))[0].used).toBe(1000);
  await store.settle('a', { input: 0, output: 1, request: 1 });
  expect((await store.peek([limit.item]))[0].used).toBe(401);
  expect(await admin.exists('tg:{default}:held')).toBe(0);
  // The scripts did ask for the unchecked commands, and were refused them.
  const denied = JSON.stringify(await admin.acl('LOG'));
  for (const command of ['pttl', 'hlen']) expect(denied).toContain(`"${command}"`);
});
