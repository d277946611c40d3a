// Budget leases when Redis loses its counters (FLUSHALL, a restart without persistence) while an instance
// holds a slice: the counters are rebuilt from the ledger (the settled usage), which knows nothing of the
// slice. Two instances (leased stores, each over its own connection) share a private redis-server; the
// ledger is a stand-in: the usage settled so far, restored by the rebuild as rebuild-counters.ts does.
// Time is a ManualClock (it also stands in for Redis TIME), so no lease ends unless a test moves it: the
// rebuild first waits out the slices granted before the loss (lease-wait.ts), and `ticking` moves the
// clock while it does. Found by a QA pass on 12-05: before that wait, the unused room of another
// instance's slice was handed out twice (1,140 admitted on a limit of 1,000), and a slice placed back by
// its own instance counted its settled part twice.
//
// KNOWN GAP, pinned by expectKnownGap (each such test passes while the gap is there; a fix makes it fail:
// then assert what it should be), described in the README ("A failover that loses the latest writes"):
// a failover to a replica that kept some records while the ledger is ahead: the rebuild's raise to the
// ledger hides those reservations (without leases too), leaving the counter below the settled usage;
// a fix wants open reservations kept apart from settled usage in each counter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { CounterItem, CounterStore, LeaseStats, ReserveRequest } from '../src/limits/counter-store.js';
import { LeasedStore } from '../src/limits/leased-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';
import { readCounter } from './helpers/redis-counters.js';

let server: RedisServer;
let raw: Redis;
const stores: CounterStore[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  raw = new Redis(server.url);
}, 30_000);
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close().catch(() => {})));
  await raw?.quit();
  await server?.stop();
});

const T0 = Date.UTC(2026, 0, 15, 12); // mid-day: the daily window does not end during a test
const LEASE_MS = 60_000;
const DAY: CounterItem['window'] = { kind: 'calendar', unit: 'day' };
const MAX = 1000;
const CALL = 10; // every call reserves and uses 10 tokens

/** One organization with a daily limit of MAX tokens, its ledger stand-in, and instances of the gateway. */
function organization() {
  const org = `lc${Math.random().toString(36).slice(2, 10)}`;
  const daily: CounterItem = { key: `tg:{${org}}:org:daily:fixed_window`, algorithm: 'fixed_window', window: DAY, max: MAX, weights: { input: 1, output: 0, request: 0 }, mode: 'enforce' };
  // Another limit of the same organization that no instance holds a lease on: a request needing it goes to Redis.
  const project: CounterItem = { ...daily, key: `tg:{${org}}:project:p:daily:fixed_window`, max: 1_000_000 };
  const clock = new ManualClock(T0);
  const state = { ledger: 0, rebuilds: 0 };
  let seq = 0;

  /** A gateway instance with budget leases (`leased: false`: without, the Redis store itself). */
  async function instance(leased = true): Promise<CounterStore & { leaseStats(): LeaseStats }> {
    const client = createRedisClient(server.url, 2000);
    if (!(await waitReady(client, 5000))) throw new Error('no Redis');
    const leases = leased ? { leases: { ms: LEASE_MS, clock } } : {};
    const redis = new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 600_000, timeOverride: clock, ...leases });
    const store = leased ? new LeasedStore(redis, { leaseMs: LEASE_MS, clock }) : Object.assign(redis, { leaseStats: () => ({ localAdmissions: 0, granted: 0, open: 0 }) });
    // What the gateway's rebuild does: every counter raised to the ledger's settled usage.
    await store.rebuildWhenLost!([org], async () => {
      state.rebuilds++;
      await store.restore([{ item: daily, used: state.ledger }]);
    });
    stores.push(store);
    return store;
  }

  /** One call of CALL tokens on `items`, settled at once (its usage goes to the ledger); whether it was admitted. */
  async function call(store: CounterStore, items: CounterItem[] = [daily]): Promise<boolean> {
    const req: ReserveRequest = { id: `${org}-${++seq}`, items, input: CALL, output: 0, clamp: false, minOutput: 0 };
    const outcome = await store.reserve(req);
    if (!outcome.ok) return false;
    await store.settle(req.id, { input: CALL, output: 0, request: 1 });
    state.ledger += CALL;
    return true;
  }

  /** Makes `store` hold a lease on the daily limit: 4 exact calls (busy), then the slice asked for is granted. */
  async function takeLease(store: Awaited<ReturnType<typeof instance>>): Promise<void> {
    for (let i = 0; i < 4; i++) expect(await call(store)).toBe(true);
    await until(async () => store.leaseStats().open === 1, 5000);
  }

  /** What a replica has now (the counter and the presence count): `promote()` puts Redis back to it, as a failover to that replica would. */
  async function replicaNow(): Promise<{ promote(): Promise<void> }> {
    const snapshot = await Promise.all([daily.key, `tg:{${org}}:present`].map(async (key) => [key, await raw.dumpBuffer(key)] as const));
    return {
      async promote() {
        for (const [key, dump] of snapshot) await raw.restore(key, 0, dump!, 'REPLACE');
      },
    };
  }

  /** Two calls of 200 settled by `store` (too large for a slice): 400 of usage a replica cut off never sees. */
  async function spendLarge(store: CounterStore): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const id = `${org}-big-${i}`;
      expect((await store.reserve({ id, items: [daily], input: 200, output: 0, clamp: false, minOutput: 0 })).ok).toBe(true);
      await store.settle(id, { input: 200, output: 0, request: 1 });
      state.ledger += 200;
    }
  }

  /**
   * `pending`, the clock moving on a second every few ms until it settles: a rebuild waiting out the slices
   * granted before a loss waits for LEASE_MS of it. Returns its value and how far the clock moved.
   */
  async function ticking<T>(pending: Promise<T>): Promise<{ value: T; waited: number }> {
    const from = clock.now();
    let done = false;
    pending.then(
      () => (done = true),
      () => (done = true),
    );
    while (!done) {
      await new Promise((r) => setTimeout(r, 5));
      if (!done) clock.advance(1000);
    }
    return { value: await pending, waited: clock.now() - from };
  }

  return { org, daily, project, clock, state, instance, call, takeLease, replicaNow, spendLarge, ticking };
}

const flushAll = (): Promise<unknown> => raw.flushall();

/**
 * The gap a test pins (see the header): `actual` is not yet what it should be. Everything before it is
 * asserted as usual, so a broken setup fails the test rather than passing for the gap.
 */
function expectKnownGap(actual: unknown, wanted: unknown): void {
  expect(actual, 'the known gap is closed: assert toEqual(wanted) now').not.toEqual(wanted);
}

describe('budget leases when Redis loses its counters', () => {
  const cases = [
    ['FLUSHALL', 'B first, then A'],
    ['FLUSHALL', 'taking turns'],
    ['a restart without persistence', 'B first, then A'],
  ] as const;
  for (const [loss, order] of cases) {
    it(`a slice held across the loss is not admitted against by two instances: together they stay within the limit (${loss}; ${order})`, async () => {
      const o = organization();
      const [a, b] = [await o.instance(), await o.instance()];
      await o.takeLease(a);
      // A uses 50 of its slice (200: 1.25 x the demand seen over a lease period, under a quarter of the room).
      const local = a.leaseStats().localAdmissions;
      for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true);
      expect(a.leaseStats().localAdmissions).toBe(local + 5);
      const counted = await readCounter(raw, o.daily.key);
      const slice = counted - o.state.ledger; // what Redis counts beyond the settled usage: the slice's unused part
      expect(o.state.ledger).toBe(90);
      expect(slice).toBe(150);

      // B's next call notices and rebuilds from the ledger, which knows nothing of A's slice: first it waits
      // until every slice granted before the loss has ended (A's too).
      let waited = 0;
      if (loss === 'FLUSHALL') {
        await flushAll();
        const noticed = await o.ticking(o.call(b));
        expect(noticed.value).toBe(true);
        waited = noticed.waited;
      } else {
        await server.kill();
        await server.restart();
        // B's first call once its connection is back (a call failing meanwhile is not admitted, nor counted).
        await until(async () => {
          const noticed = await o.ticking(o.call(b).catch(() => false));
          waited += noticed.waited;
          return noticed.value;
        }, 8000);
      }
      expect(o.state.rebuilds).toBe(1);
      expect(waited).toBeGreaterThanOrEqual(LEASE_MS);
      expect(waited).toBeLessThan(LEASE_MS + 10_000);

      // Both admit as much as they can.
      const admitted = { a: 0, b: 0 };
      if (order === 'B first, then A') {
        while (admitted.b < 2 * MAX && (await o.call(b))) admitted.b += CALL;
        while (admitted.a < 2 * MAX && (await o.call(a))) admitted.a += CALL;
      } else {
        for (let refusedInARow = 0, i = 0; refusedInARow < 2 && i < 4 * MAX; i++) {
          const who = i % 2 === 0 ? 'a' : 'b';
          if (await o.call(who === 'a' ? a : b)) {
            admitted[who] += CALL;
            refusedInARow = 0;
          } else refusedInARow++;
        }
      }
      const total = o.state.ledger;
      expect(total).toBeLessThanOrEqual(MAX); // 1,140 before the wait
      // Less a sliver of room an instance may still hold in a slice too small for a call.
      expect(total).toBeGreaterThan(MAX - 2 * CALL);
      expect(admitted.a + admitted.b).toBe(total - 90 - CALL);
      expect(await readCounter(raw, o.daily.key)).toBeGreaterThanOrEqual(total);
    });
  }

  it('a slice placed back by its own instance after the rebuild is not counted twice: the counter ends at the settled usage', async () => {
    const o = organization();
    const a = await o.instance();
    await o.takeLease(a);
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true); // 50 of the slice used and settled
    expect(o.state.ledger).toBe(90);

    await flushAll();
    // A request needing a limit A holds no slice on goes to Redis, notices the loss, and A rebuilds (90 from
    // the ledger) once its slice has ended, and places its reservations in flight back: of the slice, what
    // its calls still running hold (none).
    const noticed = await o.ticking(o.call(a, [o.daily, o.project]));
    expect(noticed.value).toBe(true);
    expect(noticed.waited).toBeGreaterThanOrEqual(LEASE_MS);
    expect(o.state.rebuilds).toBe(1);
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true); // exact, or against a new slice
    // Every slice goes back: every call is settled, so the counter is exactly the settled usage.
    await a.close();
    expect(await readCounter(raw, o.daily.key)).toBe(o.state.ledger);
  });

  it('a slice still usable when its own instance places it back: its unused room is counted, its settled part not twice', async () => {
    const o = organization();
    const a = await o.instance();
    await o.takeLease(a);
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true); // 50 of the 200 used and settled: ledger 90
    await flushAll();
    // A loss noticed more than LEASE_MS ago (by some instance that then went away): no wait, and A's slice,
    // granted after it was noticed, is still usable.
    await raw.set(`tg:{${o.org}}:lost`, String(o.clock.now() - LEASE_MS), 'PX', 60_000);
    const noticed = await o.ticking(o.call(a, [o.daily, o.project]));
    expect(noticed.value).toBe(true);
    expect(noticed.waited).toBeLessThan(LEASE_MS);
    // 90 from the ledger, the slice's unused 150, this call's 10.
    expect(await readCounter(raw, o.daily.key)).toBe(90 + 150 + CALL);
    const local = a.leaseStats().localAdmissions;
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true); // 50 more of the slice
    expect(a.leaseStats().localAdmissions).toBe(local + 5);
    await a.close();
    expect(await readCounter(raw, o.daily.key)).toBe(o.state.ledger);
  });

  it('a slice kept open across the rebuild by a call still running against it is not counted twice either', async () => {
    const o = organization();
    const a = await o.instance();
    await o.takeLease(a);
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true); // 50 of the slice used and settled
    const running: ReserveRequest = { id: `${o.org}-running`, items: [o.daily], input: CALL, output: 0, clamp: false, minOutput: 0 };
    const local = a.leaseStats().localAdmissions;
    expect((await a.reserve(running)).ok).toBe(true);
    expect(a.leaseStats().localAdmissions).toBe(local + 1); // against the slice
    expect(o.state.ledger).toBe(90);

    await flushAll();
    // A notices, rebuilds (90) once the slice has ended, and places back what the running call holds of it.
    expect((await o.ticking(o.call(a, [o.daily, o.project]))).value).toBe(true);
    expect(o.state.rebuilds).toBe(1);
    // The running call uses more than it was admitted with: counted once it settles, when the slice goes back.
    await a.settle(running.id, { input: 3 * CALL, output: 0, request: 1 });
    o.state.ledger += 3 * CALL;
    await a.close();
    expect(await readCounter(raw, o.daily.key)).toBe(o.state.ledger);
  });

  it('a failover to a replica that had the slice but not later writes: the rebuild does not swallow the slice, and nobody passes the limit', async () => {
    const o = organization();
    const a = await o.instance();
    await o.takeLease(a);
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true); // 50 of A's 200 used: ledger 90, counter 240
    // What the replica has when the primary dies: the slice (its record and the counter with it), and the
    // presence count then.
    const replica = await o.replicaNow();
    // Another instance spends 400 in two large calls (too large for a slice); the replica never sees them.
    const b = await o.instance();
    await o.spendLarge(b);
    expect(o.state.ledger).toBe(490);
    // The replica is promoted: the counter and the count go back to the snapshot.
    await replica.promote();
    // B's next call finds a count below the one it saw: a rebuild from the ledger (490) before it is admitted.
    expect((await o.ticking(o.call(b))).value).toBe(true);
    expect(o.state.rebuilds).toBe(1);
    // Redis should still count A's unused 150 beside the settled 500.
    const counter = await readCounter(raw, o.daily.key);
    // A (its slice has ended while B waited) admits what it can, returns the slice; B admits what is left.
    const admitted = { a: 0, b: 0 };
    while (admitted.a < 2 * MAX && (await o.call(a))) admitted.a += CALL;
    await a.close();
    while (admitted.b < 2 * MAX && (await o.call(b))) admitted.b += CALL;
    const total = o.state.ledger;
    expectKnownGap({ counterAfterRebuild: counter, total, overshoot: Math.max(0, total - MAX), ...admitted }, { counterAfterRebuild: 500 + 150, total, overshoot: 0, ...admitted });
  });

  it("after that failover, the slice's return does not take its unused part off a counter the rebuild set without it", async () => {
    const o = organization();
    const a = await o.instance();
    await o.takeLease(a);
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true); // ledger 90, counter 240 (the slice: 200)
    const replica = await o.replicaNow();
    const b = await o.instance();
    await o.spendLarge(b);
    await replica.promote();
    expect((await o.ticking(o.call(b))).value).toBe(true); // the rebuild: 490 from the ledger, + 10
    expect(o.state.rebuilds).toBe(1);
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true); // 50 more, exactly (the slice has ended)
    await a.close(); // and hands back the unused 100
    const counter = await readCounter(raw, o.daily.key);
    expectKnownGap({ counter, ledger: o.state.ledger }, { counter: o.state.ledger, ledger: o.state.ledger });
  });

  it('(without leases) the same failover: a call in flight whose record the replica kept is not swallowed by the rebuild', async () => {
    const o = organization();
    const a = await o.instance(false);
    for (let i = 0; i < 4; i++) expect(await o.call(a)).toBe(true); // ledger 40
    // A call of 150 is running on another instance, reserved before the snapshot.
    const c = await o.instance(false);
    expect((await c.reserve({ id: `${o.org}-running`, items: [o.daily], input: 150, output: 0, clamp: false, minOutput: 0 })).ok).toBe(true);
    const replica = await o.replicaNow();
    await o.spendLarge(a);
    await replica.promote();
    expect(await o.call(a)).toBe(true); // the rebuild: 440 from the ledger
    expect(o.state.rebuilds).toBe(1);
    const counter = await readCounter(raw, o.daily.key);
    // The running call ends having used all 150.
    await c.settle(`${o.org}-running`, { input: 150, output: 0, request: 1 });
    o.state.ledger += 150;
    expectKnownGap({ counterAfterRebuild: counter, counterAtEnd: await readCounter(raw, o.daily.key) }, { counterAfterRebuild: 450 + 150, counterAtEnd: o.state.ledger });
  });

  it("a slice's return after another instance rebuilt the counters does not leave them below the settled usage", async () => {
    const o = organization();
    const [a, b] = [await o.instance(), await o.instance()];
    await o.takeLease(a);
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true);
    await flushAll();
    expect((await o.ticking(o.call(b))).value).toBe(true); // B rebuilds: 90 + its call
    // A's slice has ended meanwhile: its calls go to Redis, which counts fewer reservations than A saw, so A
    // rebuilds too (without a second wait) and places back what it holds of the slice (nothing running).
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true);
    expect(o.state.rebuilds).toBe(2);
    await a.close();
    expect(await o.call(b)).toBe(true);
    expect(o.state.rebuilds).toBe(2);
    const [state] = await b.peek([o.daily]);
    expect(state.used).toBeGreaterThanOrEqual(o.state.ledger);
    expect(await readCounter(raw, o.daily.key)).toBeGreaterThanOrEqual(o.state.ledger);
  });
});
