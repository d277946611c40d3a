// Behind Redis Sentinel, a reconnection asks first the sentinel that answered last. ioredis moves it to the
// front of its list only in its own failover detector, which the gateway turns off (sentinel-failover.ts
// follows +switch-master instead): each reconnection asked the next address in the list, a sentinel that
// is down cost a failed connection every time, and past the last address ioredis reported "All sentinels
// are unreachable" and waited its retry delay, though the sentinel it had used answered all along.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { MASTER_NAME, startSentinelSetup, type SentinelSetup } from './helpers/redis-sentinel.js';
import { freeRedisPort } from './helpers/redis-servers.js';

let setup: SentinelSetup;
beforeAll(async () => {
  setup = await startSentinelSetup();
}, 30_000);
afterAll(() => setup?.stop());

describe('a Sentinel client reconnecting', () => {
  it('asks the sentinel that answered before, not the next address (here one where nothing listens)', async () => {
    const nobody = await freeRedisPort();
    const client = createRedisClient(`redis-sentinel://127.0.0.1:${setup.sentinelPorts[0]},127.0.0.1:${nobody}/${MASTER_NAME}`, 200) as Redis;
    const sentinelErrors: string[] = [];
    client.on('sentinelError', (err: Error) => sentinelErrors.push(err.message));
    try {
      expect(await waitReady(client, 5000)).toBe(true);
      expect(sentinelErrors).toEqual([]);
      for (let i = 0; i < 3; i++) {
        const reconnecting = new Promise((resolve) => client.once('reconnecting', resolve));
        client.disconnect(true);
        await reconnecting;
        expect(await waitReady(client, 5000)).toBe(true);
      }
      expect(sentinelErrors).toEqual([]);
    } finally {
      client.disconnect();
    }
  }, 30_000);
});
