// Gateways' Redis counter stores on one private redis-server, for the tests of the held index
// (src/limits/redis/lua-held-index.ts): each test file gets its own server, each store its own connection,
// on a manual clock that also stands in for Redis TIME. And an older release's source beside this one.
import { createHash } from 'node:crypto';
import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { afterAll } from 'vitest';
import { createRedisClient, waitReady, type RedisClient } from '../../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../../src/limits/redis/redis-store.js';
import { ManualClock } from '../../src/util/clock.js';
import { usePrivateRedis, type RedisServer } from './redis-servers.js';

/** 10:05 UTC: an hour's window and a 2-hour one both started at 10:00. */
export const HELD_NOW = Date.UTC(2026, 10, 18, 10, 5);

export interface StoreOptions {
  clock: ManualClock;
  reservationTtlMs?: number;
  /** The client's command timeout (storage.timeout_ms). */
  timeoutMs?: number;
  /** Another release's store class (olderRelease). */
  Store?: typeof RedisCounterStore;
  /** Another Redis (a cluster's URL, another user's). */
  url?: string;
}

/** A private redis-server for the file, and `open` for stores on it, all closed after the file's tests. */
export function useStoresOnPrivateRedis() {
  const redis = usePrivateRedis();
  const stores: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    // Before the server stops: vitest runs after-hooks in reverse order.
    for (const store of stores) await store.close();
  });
  const server = (): RedisServer => redis;
  /** A store on its own connection, and that connection for reading Redis directly. */
  async function open(o: StoreOptions): Promise<{ store: RedisCounterStore; client: RedisClient }> {
    const client = createRedisClient(o.url ?? server().url, o.timeoutMs ?? 2000);
    if (!(await waitReady(client, 5000))) throw new Error('no Redis');
    const Store = o.Store ?? RedisCounterStore;
    const store = new Store(client, { timezone: 'UTC', clock: o.clock, reservationTtlMs: o.reservationTtlMs ?? 60_000, timeOverride: o.clock });
    stores.push(store);
    return { store, client };
  }
  /** Two instances (A and B) on the flushed server, on one clock at HELD_NOW. */
  async function twoInstances(reservationTtlMs = 60_000): Promise<{ a: RedisCounterStore; b: RedisCounterStore; raw: RedisClient; clock: ManualClock }> {
    const clock = new ManualClock(HELD_NOW);
    const [{ store: a, client: raw }, { store: b }] = [await open({ clock, reservationTtlMs }), await open({ clock, reservationTtlMs })];
    await raw.flushall();
    return { a, b, raw, clock };
  }
  return { server, open, twoInstances, stores };
}

/** The source of release `rev` (src/ and package.json from `git archive`) in /tmp, for importing its modules beside this release's. */
export function olderRelease(rev: string, name: string): string {
  // One per checkout: its node_modules link is that checkout's (a clone since deleted left a later run's
  // imports pointing nowhere: "Cannot find module './Redis'").
  const checkout = createHash('sha1').update(process.cwd()).digest('hex').slice(0, 8);
  const dir = `/tmp/${name}-${rev}-${checkout}`;
  if (!existsSync(`${dir}/src`)) {
    // Extracted beside it and renamed into place: a run reading it meanwhile (another worker, another
    // checkout) never finds it half written, and an extraction cut short is never reused.
    const fresh = mkdtempSync(`${dir}-part-`);
    execSync(`git archive ${rev} src package.json | tar -x -C ${fresh}`, { cwd: process.cwd() });
    symlinkSync(`${process.cwd()}/node_modules`, `${fresh}/node_modules`);
    try {
      renameSync(fresh, dir);
    } catch {
      rmSync(fresh, { recursive: true, force: true }); // another run put it in place first
    }
  }
  return dir;
}
