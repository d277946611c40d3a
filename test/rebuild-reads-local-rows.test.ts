// A call admitted against the local counters while lost counters are rebuilt (fail_open, the rebuild slower
// than rebuild_wait_ms) has its usage replayed into Redis once the rebuild is done. Its ledger row is
// written right after its settlement (as the pipeline does: settle, then record), so if the settlement
// returned at once, the row could land in what the rebuild was still reading and the call count twice:
// once restored from the ledger, once replayed. A ResilientStore over a RedisCounterStore on a private
// redis-server; the "ledger" is an array of rows that the rebuild sums when its slow read ends.
import { describe, expect, it } from 'vitest';
import type { CounterItem } from '../src/limits/counter-store.js';
import { RebuildReads } from '../src/limits/rebuild-reads.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ResilientStore } from '../src/limits/resilient-store.js';
import { systemClock } from '../src/util/clock.js';
import { middayZone } from './helpers/midday-zone.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('fail_open: a local call ending while lost counters are rebuilt', () => {
  it('is counted once: its row misses the rebuild read, its usage is replayed after it', async () => {
    const zone = middayZone();
    const client = createRedisClient(redis.url, 500);
    if (!(await waitReady(client, 5000))) throw new Error('no Redis');
    const primary = new RedisCounterStore(client, { timezone: zone, clock: systemClock, reservationTtlMs: 60_000, rebuildWaitMs: 200 });
    const store = new ResilientStore(primary, { defaultMode: 'fail_open', instances: 1, timezone: zone, clock: systemClock, log: { info: () => {}, warn: () => {} }, description: 'reads', probeIntervalMs: 50 });
    const org = `reads${Date.now()}`;
    const daily: CounterItem = { key: `tg:{${org}}:daily`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 10_000, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
    const ledger: number[] = []; // each row's tokens
    let readEnded = false;
    await store.rebuildWhenLost([org], async () => {
      await sleep(800); // a slow query: rows written meanwhile may or may not be in what it returns
      readEnded = true;
      const used = ledger.reduce((a, b) => a + b, 0);
      if (used > 0) await store.restore([{ item: daily, used }]);
    });
    const reserve = (id: string, input: number) => store.reserve({ id, items: [daily], input, output: 0, clamp: false, minOutput: 0 });
    /** A call settled, then its row written, as the pipeline does (Engine.settleCall). */
    const finish = async (id: string, tokens: number): Promise<boolean> => {
      await store.settle(id, { input: tokens, output: 0, request: 1, rowFollows: true });
      ledger.push(tokens);
      return readEnded;
    };
    try {
      expect((await reserve('before', 100)).ok).toBe(true);
      await finish('before', 100);
      await store.quiesce();
      await client.flushall(); // the counters are lost
      expect((await reserve('a', 50)).ok).toBe(true); // not rebuilt within 200 ms: admitted locally
      expect(readEnded).toBe(false);
      // A refund (the engine's retry with an exact count) writes no row with usage: it does not wait.
      expect((await reserve('refunded', 30)).ok).toBe(true);
      await store.settle('refunded', { input: 0, output: 0, request: 0 });
      expect(readEnded).toBe(false);
      // Settled while the read goes on: its row is written only once the read has ended.
      const rowAfterRead = await finish('a', 40);
      await until(async () => store.holdsCounters([org]), 5000);
      await until(async () => {
        await store.quiesce();
        return store.backlog === 0;
      }, 5000);
      // 100 from the ledger (the row written before the loss), 40 replayed: not 180.
      expect((await primary.peek([daily]))[0].used).toBe(140);
      expect(rowAfterRead).toBe(true);
    } finally {
      await store.close();
    }
  }, 30_000);
});

describe('RebuildReads', () => {
  it('has nothing to wait for without a read under way, and releases the wait when the read ends', async () => {
    const reads = new RebuildReads();
    expect(reads.waitForRead()).toBeUndefined();
    let end!: () => void;
    const running = reads.run(() => new Promise<void>((r) => (end = r)));
    const wait = reads.waitForRead();
    expect(wait).toBeDefined();
    let released = false;
    void wait!.then(() => (released = true));
    await sleep(20);
    expect(released).toBe(false);
    end();
    await running;
    await sleep(0);
    expect(released).toBe(true);
    expect(reads.waitForRead()).toBeUndefined();
  });

  it('lets a wait go after its bound when the read hangs, and a failed read ends it too', async () => {
    const reads = new RebuildReads(50);
    const hung = reads.run(() => new Promise<void>(() => {}));
    const t0 = performance.now();
    await reads.waitForRead();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    void hung;
    const other = new RebuildReads();
    await expect(other.run(async () => Promise.reject(new Error('the ledger refused')))).rejects.toThrow('the ledger refused');
    expect(other.waitForRead()).toBeUndefined();
  });

  it('waits for nothing once the gateway is stopping (its rows must reach the ledger before it closes)', async () => {
    const reads = new RebuildReads();
    void reads.run(() => new Promise<void>(() => {})); // a read held by a lock
    const wait = reads.waitForRead()!;
    let released = false;
    void wait.then(() => (released = true));
    reads.stopWaiting();
    await sleep(0);
    expect(released).toBe(true);
    void reads.run(() => new Promise<void>(() => {}));
    expect(reads.waitForRead()).toBeUndefined();
  });
});
