// The Redis ACL check (command-permissions.ts) runs once each time the connection becomes ready.
// Regression: after an outage it ran twice, from the 'ready' listener and again from the probe's PING.
// The probe still checks while the store is down, so a user refused a command on a connection that stays
// open (test/redis-acl-missing-commands.test.ts) keeps the store unavailable until the ACL allows it.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadPolicy } from '../src/config/index.js';
import type { CounterItem } from '../src/limits/counter-store.js';
import { openCounterStore } from '../src/limits/open-counter-store.js';
import { writeConfig } from './helpers/processes.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();

const daily: CounterItem = { key: 'tg:{once}:daily:fixed_window', algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 1000, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };

/** How many times Redis ran `name` since it started (INFO commandstats). */
async function calls(name: string): Promise<number> {
  const admin = new Redis(redis.url);
  try {
    const stats = await admin.info('commandstats');
    return Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  } finally {
    admin.disconnect();
  }
}

describe('the ACL check after a Redis restart', () => {
  it('runs once for the new connection, not again from the probe', async () => {
    const log = { info: () => {}, warn: () => {} };
    const policy = loadPolicy([writeConfig(`storage: {counters: "${redis.url}", on_store_error: fail_closed, timeout_ms: 100}\n`)], {});
    const store = await openCounterStore(policy, log);
    try {
      await redis.kill();
      await store.reserve({ id: 'r1', items: [daily], input: 1, output: 0, clamp: false, minOutput: 1 }).catch(() => undefined);
      expect(store.mode).toBe('fail_closed');
      await redis.restart();
      await until(() => store.mode === 'ok', 5000);
      // Only the check sends INCR (the store's own commands and scripts never do).
      expect(await calls('incr')).toBe(1);
    } finally {
      await store.close();
    }
  });
});
