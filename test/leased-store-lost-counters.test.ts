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
// a failover to a replica that kept a budget lease's record while the ledger is ahead: the rebuild's raise
// to the ledger hides the slice, leaving the counter below the settled usage. Without leases this is
// fixed: Redis keeps what reservations hold apart from settled usage (src/limits/redis/lua-held-index.ts),
// which a lease's slice, part used by calls already in the ledger, cannot be.
import { describe, expect, it } from 'vitest';
import type { CounterStore, ReserveRequest } from '../src/limits/counter-store.js';
import { until } from './helpers/until.js';
import { readCounter } from './helpers/redis-counters.js';
import { CALL, leasedOrganization, MAX, privateRedis } from './helpers/leased-organization.js';

const env = privateRedis();

const LEASE_MS = 60_000;

/** An organization (test/helpers/leased-organization.ts) and what a failover does to it. */
function organization() {
  const o = leasedOrganization({ redisUrl: env.server.url, leaseMs: LEASE_MS, stores: env.stores });
  const { org, daily, state } = o;

  /** What a replica has now (the counter, the presence marker, the admitted count and the held index): `promote()` puts Redis back to it, as a failover to that replica would. */
  async function replicaNow(): Promise<{ promote(): Promise<void> }> {
    const snapshot = await Promise.all([daily.key, `tg:{${org}}:present`, `tg:{${org}}:admitted`, `tg:{${org}}:held`].map(async (key) => [key, await env.raw.dumpBuffer(key)] as const));
    return {
      async promote() {
        for (const [key, dump] of snapshot) await (dump ? env.raw.restore(key, 0, dump, 'REPLACE') : env.raw.del(key));
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

  return { ...o, replicaNow, spendLarge };
}

const flushAll = (): Promise<unknown> => env.raw.flushall();

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
      const counted = await readCounter(env.raw, o.daily.key);
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
        await env.server.kill();
        await env.server.restart();
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
        for (let refusedInARow = 0, settled = false, i = 0; i < 4 * MAX; i++) {
          const who = i % 2 === 0 ? 'a' : 'b';
          if (await o.call(who === 'a' ? a : b)) {
            admitted[who] += CALL;
            refusedInARow = 0;
            settled = false;
          } else if (++refusedInARow === 2) {
            if (settled) break;
            // A slice handed back in the background may not have reached Redis yet (it goes on its own
            // instance's connection): a peek is sent after it and waits for any grant under way.
            await Promise.all([a.peek([o.daily]), b.peek([o.daily])]);
            settled = true;
            refusedInARow = 0;
          }
        }
      }
      const total = o.state.ledger;
      expect(total).toBeLessThanOrEqual(MAX); // 1,140 before the wait
      // Less the slivers too small for a call: one in each instance's slice and one in Redis (each under
      // CALL; the usage is whole calls, so together at most 2 calls' worth).
      expect(total).toBeGreaterThanOrEqual(MAX - 2 * CALL);
      expect(admitted.a + admitted.b).toBe(total - 90 - CALL);
      expect(await readCounter(env.raw, o.daily.key)).toBeGreaterThanOrEqual(total);
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
    expect(await readCounter(env.raw, o.daily.key)).toBe(o.state.ledger);
  });

  it('a slice still usable when its own instance places it back: its unused room is counted, its settled part not twice', async () => {
    const o = organization();
    const a = await o.instance();
    await o.takeLease(a);
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true); // 50 of the 200 used and settled: ledger 90
    await flushAll();
    // A loss noticed more than LEASE_MS ago (by some instance that then went away): no wait, and A's slice,
    // granted after it was noticed, is still usable.
    await env.raw.set(`tg:{${o.org}}:lost`, String(o.clock.now() - LEASE_MS), 'PX', 60_000);
    const noticed = await o.ticking(o.call(a, [o.daily, o.project]));
    expect(noticed.value).toBe(true);
    expect(noticed.waited).toBeLessThan(LEASE_MS);
    // 90 from the ledger, the slice's unused 150, this call's 10.
    expect(await readCounter(env.raw, o.daily.key)).toBe(90 + 150 + CALL);
    const local = a.leaseStats().localAdmissions;
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true); // 50 more of the slice
    expect(a.leaseStats().localAdmissions).toBe(local + 5);
    await a.close();
    expect(await readCounter(env.raw, o.daily.key)).toBe(o.state.ledger);
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
    expect(await readCounter(env.raw, o.daily.key)).toBe(o.state.ledger);
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
    const counter = await readCounter(env.raw, o.daily.key);
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
    const counter = await readCounter(env.raw, o.daily.key);
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
    const counter = await readCounter(env.raw, o.daily.key);
    // The running call ends having used all 150.
    await c.settle(`${o.org}-running`, { input: 150, output: 0, request: 1 });
    o.state.ledger += 150;
    // The replica's held index says 150 of the counter is the running call's: the settled part is raised beside it.
    expect({ counterAfterRebuild: counter, counterAtEnd: await readCounter(env.raw, o.daily.key) }).toEqual({ counterAfterRebuild: 450 + 150, counterAtEnd: o.state.ledger });
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
    expect(await readCounter(env.raw, o.daily.key)).toBeGreaterThanOrEqual(o.state.ledger);
  });
});
