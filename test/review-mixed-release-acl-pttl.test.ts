// Found by a QA helper checking the rolling upgrade to f20a672 (fixed-window keys keep each window length
// apart). That commit's reserve script calls PTTL when it starts a fixed window (a window's start only ever
// lengthens the key's life), a command the scripts never called before and that the connection check
// (src/limits/redis/command-permissions.ts) does not send. A Redis user allowed exactly the commands the
// check sends, and the README lists (the least privilege that served the previous release, a2f9445),
// passes the check: the gateway logs "counters shared in Redis", then every reservation that starts a
// fixed window fails in the script ("The user executing the script can't run this command"): with real
// gateways on such a user, the previous release admitted every call and this one answered every call 503
// store_unavailable, old and new side by side during the upgrade. And since Redis does not roll back a
// script that fails half way, the refused reservation's HSET of the window before PTTL stays: the first
// window key counts a call that was never admitted.
// Fixed by keeping the key's life in a field of its own (`e`) instead: the scripts call no command the check
// does not send, so a user that served the previous release serves this one.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadPolicy } from '../src/config/index.js';
import type { CounterItem, CounterStore } from '../src/limits/counter-store.js';
import { openCounterStore } from '../src/limits/open-counter-store.js';
import { writeConfig } from './helpers/processes.js';
import { usePrivateRedis } from './helpers/redis-servers.js';

// The commands command-permissions.ts checks (and the README names), plus what a client needs to connect.
const CHECKED = ['eval', 'evalsha', 'time', 'set', 'get', 'incr', 'exists', 'pexpire', 'del', 'hset', 'hmget', 'hgetall', 'hdel'];
const CONNECT = ['ping', 'info', 'client', 'select', 'hello', 'script', 'config'];

const redis = usePrivateRedis();
let admin: Redis;
beforeAll(async () => {
  admin = new Redis(redis.url);
  await admin.acl('SETUSER', 'leastpriv', 'reset', 'on', '>pw', '~*', '&*', ...[...CHECKED, ...CONNECT].map((c) => `+${c}`));
});
afterAll(async () => {
  await admin?.quit();
});

const daily: CounterItem = { key: 'tg:{pttl}:daily:fixed_window', algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 1000, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };

it('a Redis user allowed every command the connection check sends can run the reserve script, or the check names what it lacks', async () => {
  const logs: string[] = [];
  const log = { info: (obj: object, msg: string) => void logs.push(msg + JSON.stringify(obj)), warn: (obj: object, msg: string) => void logs.push(msg + JSON.stringify(obj)) };
  const policy = loadPolicy([writeConfig(`storage: {counters: "redis://leastpriv:pw@127.0.0.1:${redis.port}", on_store_error: fail_closed, timeout_ms: 500}\n`)], {});
  const store: CounterStore = await openCounterStore(policy, log);
  try {
    const outcome = await store.reserve({ id: 'r1', items: [daily], input: 10, output: 0, clamp: false, minOutput: 1 }).catch((e: Error) => e);
    if (outcome instanceof Error) {
      // Not admitted: then nothing may be counted, and the log must say which command to allow.
      expect(await admin.hgetall(daily.key), 'a refused reservation left usage in the counter').toEqual({}); // before: {s, u: '10', l}
      expect(logs.find((l) => l.startsWith('counter store unreachable')), `${outcome.message}\n${logs.join('\n')}`).toMatch(/PTTL.*\+pttl/);
    } else {
      expect(outcome.ok).toBe(true);
    }
  } finally {
    await store.close();
  }
});
