// Budget leases through a loss of Redis's counters, the timing cases (found by a review of the wait that
// rebuilds first wait out the slices): a slice handed back while it is being placed again, rebuilds of
// several organizations chained, and instances noticing the loss late. As in
// test/leased-store-lost-counters.test.ts: a private redis-server, a ManualClock standing in for Redis
// TIME, the ledger a stand-in restored by the rebuild; lease timers and the loss key's expiry run on real time.
import { describe, expect, it } from 'vitest';
import type { CounterItem, CounterStore, ReserveRequest } from '../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { until } from './helpers/until.js';
import { readCounter } from './helpers/redis-counters.js';
import { CALL, DAY, leasedOrganization, MAX, privateRedis, T0 } from './helpers/leased-organization.js';

const env = privateRedis();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An organization (test/helpers/leased-organization.ts) whose instances run `hooks.afterPlaceAgainInput` once. */
function organization(leaseMs: number) {
  /** Runs once, just after the store asks a lease what to place again (in a microtask). */
  const hooks: { afterPlaceAgainInput?: () => void } = {};
  // The Redis store as is, but a lease's placeAgain.input() also runs the hook: what a call settling at
  // that moment does in production, deterministically.
  const wrapRedis = (redis: RedisCounterStore): CounterStore =>
    new Proxy(redis, {
      get(target, p) {
        if (p === 'reserve') {
          return (req: ReserveRequest) => {
            const pa = req.placeAgain;
            if (!pa) return target.reserve(req);
            return target.reserve({
              ...req,
              placeAgain: {
                input: () => {
                  const v = pa.input();
                  const h = hooks.afterPlaceAgainInput;
                  hooks.afterPlaceAgainInput = undefined;
                  if (h) queueMicrotask(h);
                  return v;
                },
                placed: (n: number) => pa.placed(n),
              },
            });
          };
        }
        const v = Reflect.get(target, p, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  return { ...leasedOrganization({ redisUrl: env.server.url, leaseMs, stores: env.stores, wrapRedis }), hooks };
}

describe('budget leases through a loss of the counters, when things happen at once or late', () => {
  it('a lease returned while its placement after the rebuild is in flight does not leave the counter below the settled usage', async () => {
    const LEASE_MS = 800; // real ms too: the lease's timer retires it, as in production, before the rebuild
    const o = organization(LEASE_MS);
    const a = await o.instance();
    await o.takeLease(a);
    for (let i = 0; i < 5; i++) expect(await o.call(a)).toBe(true); // 50 of the slice (200) used: ledger 90
    const running: ReserveRequest = { id: `${o.org}-running`, items: [o.daily], input: CALL, output: 0, clamp: false, minOutput: 0 };
    const local = a.leaseStats().localAdmissions;
    expect((await a.reserve(running)).ok).toBe(true);
    expect(a.leaseStats().localAdmissions).toBe(local + 1); // against the slice
    await sleep(LEASE_MS + 300); // the lease ends (retired by its timer); the running call keeps it open
    expect(a.leaseStats().open).toBe(1);

    await env.raw.flushall();
    // The running call ends just as A places its reservations back after the rebuild (its placement sent,
    // not yet answered): the lease's return goes out then.
    o.hooks.afterPlaceAgainInput = () => {
      void a.settle(running.id, { input: CALL, output: 0, request: 1 });
      o.state.ledger += CALL;
    };
    expect((await o.ticking(o.call(a, [o.daily, o.project]))).value).toBe(true);
    expect(o.state.rebuilds).toBe(1);
    expect(o.hooks.afterPlaceAgainInput).toBeUndefined(); // the hook ran
    await until(async () => a.leaseStats().open === 0, 5000);
    await sleep(100);
    // The counter must hold at least the settled usage (110).
    expect({ ledger: o.state.ledger, counter: await readCounter(env.raw, o.daily.key) }).toEqual({ ledger: 110, counter: 110 });
  });

  it('a rebuild chained behind another is not reused by an organization whose wait ended after it started', async () => {
    const LEASE_MS = 60_000;
    const clock = new ManualClock(T0);
    const orgs = ['b', 'a', 'c'].map((n) => `lr${n}${Math.random().toString(36).slice(2, 8)}`);
    const item = (org: string): CounterItem => ({ key: `tg:{${org}}:org:daily:fixed_window`, algorithm: 'fixed_window', window: DAY, max: MAX, weights: { input: 1, output: 0, request: 0 }, mode: 'enforce' });
    const client = createRedisClient(env.server.url, 2000);
    if (!(await waitReady(client, 5000))) throw new Error('no Redis');
    const store = new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 600_000, timeOverride: clock, leases: { ms: LEASE_MS, clock } });
    env.stores.push(store);
    // Each rebuild notes when it starts (and so reads the ledger), and the first two wait for the test.
    const starts: number[] = [];
    const gates = [0, 1].map(() => {
      let open!: () => void;
      const p = new Promise<void>((r) => (open = r));
      return { p, open };
    });
    await store.rebuildWhenLost(orgs, async () => {
      const n = starts.push(clock.now()) - 1;
      if (n < gates.length) await gates[n].p;
    });
    await env.raw.flushall();
    // The loss of each organization was first noticed (by instances not shown) at different moments: B's wait
    // is over, A's ends 10 s from now, C's 20 s from now.
    const noticed = [T0 - LEASE_MS, T0 - LEASE_MS + 10_000, T0 - LEASE_MS + 20_000];
    for (let i = 0; i < 3; i++) await env.raw.set(`tg:{${orgs[i]}}:lost`, String(noticed[i]), 'PX', 600_000);
    const reserve = (org: string) => store.reserve({ id: `${org}-1`, items: [item(org)], input: CALL, output: 0, clamp: false, minOutput: 0 });

    const pB = reserve(orgs[0]);
    await until(() => starts.length === 1); // rebuild 1, for B, at T0
    const [pA, pC] = [reserve(orgs[1]), reserve(orgs[2])];
    await sleep(200); // both waiting out their slices
    clock.advance(10_000); // A's wait is over while rebuild 1 is under way: A chains rebuild 2 behind it
    await sleep(200);
    gates[0].open();
    expect((await pB).ok).toBe(true);
    await until(() => starts.length === 2); // rebuild 2 starts at T0 + 10 s
    clock.advance(10_000); // C's wait is over at T0 + 20 s, while rebuild 2 (started before) is under way
    await sleep(200);
    gates[1].open();
    expect((await pA).ok).toBe(true);
    expect((await pC).ok).toBe(true);
    // C's counters must come from a ledger read once C's slices have ended (T0 + 20 s).
    expect({ starts: starts.map((t) => t - T0), readAfterCsWait: starts.some((t) => t >= T0 + 20_000) }).toMatchObject({ readAfterCsWait: true });
  });


  it('an instance noticing the loss more than lease_ms after the first one does not wait lease_ms again', async () => {
    const LEASE_MS = 800; // the loss key is kept ten times that, of real time
    const o = organization(LEASE_MS);
    const [a, b] = [await o.instance(), await o.instance()];
    for (let i = 0; i < 6; i++) expect(await o.call(a)).toBe(true); // A has seen the presence count at 6+
    await env.raw.flushall();
    const first = await o.ticking(o.call(b), 100);
    expect(first.value).toBe(true);
    expect(o.state.rebuilds).toBe(1);
    await sleep(LEASE_MS + 200); // A's next call comes a little later (its slice was serving meanwhile)
    // Small ticks: the clock moves 10 ms per 5 ms of real time, so a call that does not wait reads well under
    // LEASE_MS / 2 even when a busy host takes 100 ms over it (with ticks of 100, 20 ms of it read 400).
    const later = await o.ticking(o.call(a), 10);
    expect(later.value).toBe(true);
    expect(o.state.rebuilds).toBe(2);
    // Every slice granted before the loss ended long ago: no wait is needed.
    expect(later.waited).toBeLessThan(LEASE_MS / 2);
  });
  it('a call running on a slice across the loss, ending after another instance rebuilt, does not stall the organization for lease_ms again', async () => {
    const LEASE_MS = 800; // real ms too: the lease's timer and the loss key's expiry run on real time
    const o = organization(LEASE_MS);
    const [a, b] = [await o.instance(), await o.instance()];
    await o.takeLease(a);
    const running: ReserveRequest = { id: `${o.org}-running`, items: [o.daily], input: CALL, output: 0, clamp: false, minOutput: 0 };
    const local = a.leaseStats().localAdmissions;
    expect((await a.reserve(running)).ok).toBe(true);
    expect(a.leaseStats().localAdmissions).toBe(local + 1); // against the slice
    await env.raw.flushall();
    const first = await o.ticking(o.call(b), 100); // B notices, waits out the slices, rebuilds
    expect(first.value).toBe(true);
    expect(o.state.rebuilds).toBe(1);
    await sleep(LEASE_MS + 200); // A's slice has ended (its timer); the call on it is still running
    // The call ends on A (A has sent nothing else to Redis since the loss): the slice goes back.
    await a.settle(running.id, { input: CALL, output: 0, request: 1 });
    o.state.ledger += CALL;
    await until(async () => a.leaseStats().open === 0, 5000);
    await sleep(100);
    // B's next call: the counters were rebuilt after every slice of before the loss ended.
    const next = await o.ticking(o.call(b), 100);
    expect(next.value).toBe(true);
    // The slice's record, gone with the loss, reads as a new loss on A's return: a second rebuild, which
    // needs no wait (the first notice is kept ten lease periods).
    expect(o.state.rebuilds).toBe(2);
    expect(next.waited).toBeLessThan(LEASE_MS / 2);
  });

  it("a call of the rebuilding instance that ends while a failover's rebuild waits out the slices is counted once, from the ledger, and starts no second rebuild", async () => {
    const LEASE_MS = 60_000;
    const inner: RedisCounterStore[] = [];
    const o = leasedOrganization({ redisUrl: env.server.url, leaseMs: LEASE_MS, stores: env.stores, wrapRedis: (r) => (inner.push(r), r) });
    const b = await o.instance();
    for (let i = 0; i < 2; i++) expect(await o.call(b)).toBe(true); // exact: no slice yet
    const running: ReserveRequest = { id: `${o.org}-running`, items: [o.daily], input: CALL, output: 0, clamp: false, minOutput: 0 };
    expect((await b.reserve(running)).ok).toBe(true);
    // A failover to a replica that lacks the running call's record (the presence key it has, with its count).
    await env.raw.del(`tg:{${o.org}}:res:${running.id}`);
    // What the Sentinel client's switch to another primary does (sentinel-failover.ts onPrimaryChange).
    (inner[0] as unknown as { lost: { failedOver(): void } }).lost.failedOver();
    let done = false;
    const next = o.call(b).finally(() => (done = true));
    await sleep(100);
    expect(done).toBe(false); // waiting out the slices granted before the failover
    // The running call ends meanwhile: its row goes to the ledger, which the rebuild has not read yet.
    await b.settle(running.id, { input: CALL, output: 0, request: 1 });
    o.state.ledger += CALL;
    expect((await o.ticking(next)).value).toBe(true);
    expect(o.state.rebuilds).toBe(1);
    // Its settlement did not take the missing record for another loss: no second rebuild, no second wait.
    const after = await o.ticking(o.call(b));
    expect({ value: after.value, rebuilds: o.state.rebuilds }).toEqual({ value: true, rebuilds: 1 });
    expect(after.waited).toBeLessThan(LEASE_MS);
    await b.close(); // any slice asked for since goes back
    expect(await readCounter(env.raw, o.daily.key)).toBe(o.state.ledger);
  });
});
