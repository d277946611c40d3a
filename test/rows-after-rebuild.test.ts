// A call admitted against the local counters while lost counters are rebuilt (fail_open, the rebuild slower
// than rebuild_wait_ms) has its usage replayed into Redis once the rebuild is done. Its ledger row is
// written after its settlement (as the pipeline does: settle, then record); written at once, it could land
// in what the rebuild was still reading and the call count twice: once restored from the ledger, once
// replayed. So the ledger's writer asks the store what the row waits for (rowAfter), and the settlement
// itself returns at once (a stream's end and a strict answer follow it). A ResilientStore over a
// RedisCounterStore on a private redis-server; the "ledger" is an array of rows that the rebuild sums when
// its slow read ends, written as usage-services.ts writes them.
import { describe, expect, it } from 'vitest';
import { RowsAfterRebuild } from '../src/limits/rows-after-rebuild.js';
import { failOpenStore, limitsOf, reserverIn, RowLedger } from './helpers/fail-open-store.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const redis = usePrivateRedis();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('fail_open: a local call ending while lost counters are rebuilt', () => {
  it('is counted once: its row misses the rebuild read, its usage is replayed after it', async () => {
    const { client, primary, store } = await failOpenStore(redis.url, 'reads', { timeoutMs: 500, rebuildWaitMs: 200 });
    const org = `reads${Date.now()}`;
    const limits = limitsOf(org);
    const daily = limits.daily();
    const ledger = new RowLedger(store);
    let readEnded = false;
    await store.rebuildWhenLost([org], async () => {
      await sleep(800); // a slow query: rows written meanwhile may or may not be in what it returns
      readEnded = true;
      await ledger.restore([daily]);
    });
    const reserve = reserverIn(store, [daily]);
    /**
     * A call settled (Engine.settleCall), then its row written when the store says (usage-services.ts):
     * whether the settlement returned before the read ended, and whether the row was written after it.
     */
    const finish = async (id: string, tokens: number): Promise<{ settledDuringRead: boolean; rowAfterRead: boolean }> => {
      let settledDuringRead = false;
      await ledger.finish(id, daily, tokens, () => (settledDuringRead = !readEnded));
      return { settledDuringRead, rowAfterRead: readEnded };
    };
    try {
      expect((await reserve('before', 100)).ok).toBe(true);
      await finish('before', 100);
      await store.quiesce();
      await client.flushall(); // the counters are lost
      expect((await reserve('a', 50)).ok).toBe(true); // not rebuilt within 200 ms: admitted locally
      expect(readEnded).toBe(false);
      // A refund (the engine's retry with an exact count) writes no row with usage: nothing waits.
      expect((await reserve('refunded', 30)).ok).toBe(true);
      await store.settle('refunded', { input: 0, output: 0, request: 0 });
      expect(store.rowAfter('refunded')).toBeUndefined();
      // Settled while the read goes on, at once; its row is written only once the read has ended.
      const a = await finish('a', 40);
      await until(async () => store.holdsCounters([org]), 5000);
      await until(async () => {
        await store.quiesce();
        return store.backlog === 0;
      }, 5000);
      // 100 from the ledger (the row written before the loss), 40 replayed: not 180.
      expect((await primary.peek([daily]))[0].used).toBe(140);
      expect(a).toEqual({ settledDuringRead: true, rowAfterRead: true });
    } finally {
      await store.close();
    }
  }, 30_000);
});

describe('RowsAfterRebuild', () => {
  it('has a row wait for its rebuild, and forgets it once that ends', async () => {
    const rows = new RowsAfterRebuild();
    expect(rows.rowAfter('a')).toBeUndefined();
    let end!: () => void;
    rows.note('a', new Promise<void>((r) => (end = r)));
    const wait = rows.rowAfter('a');
    expect(wait).toBeDefined();
    let released = false;
    void wait!.then(() => (released = true));
    await sleep(20);
    expect(released).toBe(false);
    end();
    await sleep(0);
    expect(released).toBe(true);
    expect(rows.rowAfter('a')).toBeUndefined();
  });

  it('lets a row go after its bound when the rebuild hangs, and when the rebuild fails', async () => {
    const rows = new RowsAfterRebuild(50);
    rows.note('hung', new Promise<void>(() => {}));
    const t0 = performance.now();
    await rows.rowAfter('hung');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    rows.note('failed', Promise.reject(new Error('the ledger refused')));
    await rows.rowAfter('failed');
    expect(rows.rowAfter('failed')).toBeUndefined();
  });

  it('waits for nothing once the gateway is stopping (its rows must reach the ledger before it closes)', async () => {
    const rows = new RowsAfterRebuild();
    rows.note('a', new Promise<void>(() => {})); // a rebuild held by a lock
    let released = false;
    void rows.rowAfter('a')!.then(() => (released = true));
    rows.stopWaiting();
    await sleep(0);
    expect(released).toBe(true);
    rows.note('b', new Promise<void>(() => {}));
    expect(rows.rowAfter('b')).toBeUndefined();
  });
});
