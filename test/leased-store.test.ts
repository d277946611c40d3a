// Budget leases (storage.lease_ms) on real Redis: a busy limit's requests are admitted against a slice
// reserved once, the shared counters end exactly at the settled usage, instances together never pass a
// limit, and a lease is never used past the window or slot the store counted it in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { CounterItem, CounterStore, ReserveRequest } from '../src/limits/counter-store.js';
import { counterStoreContract } from '../src/limits/counter-store.contract.js';
import { LeasedStore } from '../src/limits/leased-store.js';
import { createRedisClient, waitReady } from '../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock, monotonicClock, systemClock, type Clock } from '../src/util/clock.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';
import { readCounter as readRedisCounter } from './helpers/redis-counters.js';

const server = usePrivateRedis();
let raw: Redis;
const stores: LeasedStore[] = [];

beforeAll(async () => {
  raw = new Redis(server.url);
}, 30_000);
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await raw?.quit();
});

/**
 * A leased store over its own Redis connection: one gateway instance. `clock` also stands in for Redis
 * TIME; `wrap` stands between the lease wrapper and the Redis store.
 */
async function instance(leaseMs: number, clock: Clock = systemClock, wrap = (redis: RedisCounterStore): CounterStore => redis): Promise<LeasedStore> {
  const client = createRedisClient(server.url, 2000);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  const redis = new RedisCounterStore(client, { timezone: 'UTC', clock, reservationTtlMs: 60_000, ...(clock === systemClock ? {} : { timeOverride: clock }) });
  const store = new LeasedStore(wrap(redis), { leaseMs, clock: clock === systemClock ? monotonicClock : clock });
  stores.push(store);
  return store;
}

const uniqueOrg = (): string => `l${Math.random().toString(36).slice(2, 10)}`;

function limit(org: string, name: string, algorithm: CounterItem['algorithm'], window: CounterItem['window'], max: number, weights = { input: 1, output: 1, request: 0 }): CounterItem {
  return { key: `tg:{${org}}:${name}:${algorithm}`, algorithm, window, max, weights, mode: 'enforce' };
}
const DAY: CounterItem['window'] = { kind: 'calendar', unit: 'day' };

const readCounter = (key: string): Promise<number> => readRedisCounter(raw, key);

let seq = 0;
const request = (items: CounterItem[], input: number, output: number): ReserveRequest => ({ id: `r${++seq}`, items, input, output, clamp: false, minOutput: 1 });

describe('budget leases on Redis', () => {
  it('a busy limit is admitted against its lease without a round trip, and its counters end exactly at the settled usage', async () => {
    const org = uniqueOrg();
    const store = await instance(200);
    const items = [
      limit(org, 'org:daily', 'fixed_window', DAY, 1_000_000),
      limit(org, 'route:r:input', 'sliding_window', { kind: 'duration', ms: 60_000 }, 1_000_000, { input: 1, output: 0, request: 0 }),
      // A day-long bucket of 1,000 requests hardly drains during the test.
      limit(org, 'user:u:rate', 'token_bucket', { kind: 'duration', ms: 86_400_000 }, 1000, { input: 0, output: 0, request: 1 }),
    ];
    const before = await raw.info('commandstats');
    let settled = { tokens: 0, input: 0, requests: 0 };
    for (let i = 0; i < 200; i++) {
      const req = request(items, 20, 30);
      const outcome = await store.reserve(req);
      expect(outcome.ok).toBe(true);
      // Less than reserved, and now and then a failed call whose request is handed back.
      const failed = i % 10 === 9;
      const usage = { input: 20, output: failed ? 0 : i % 30, request: failed ? 0 : 1 } as const;
      await store.settle(req.id, usage);
      settled = { tokens: settled.tokens + usage.input + usage.output, input: settled.input + usage.input, requests: settled.requests + usage.request };
    }
    const stats = store.leaseStats();
    expect(stats.localAdmissions).toBeGreaterThan(150);
    expect(stats.granted).toBeGreaterThanOrEqual(3);
    // Redis saw far fewer script calls than the 400 a reserve and a settle each would take.
    const calls = scriptCalls(await raw.info('commandstats')) - scriptCalls(before);
    expect(calls).toBeLessThan(120);

    // Once the leases end (200 ms), what they did not use goes back: every counter equals the usage.
    await until(async () => store.leaseStats().open === 0 && (await store.openReservations()) === 0, 5000);
    await until(async () => (await raw.keys(`tg:{${org}}:res:*`)).length === 0, 5000);
    expect(await readCounter(items[0].key)).toBe(settled.tokens);
    expect(await readCounter(items[1].key)).toBe(settled.input);
    // The bucket drained a little meanwhile; it holds no more than the requests and not much less.
    const bucket = await readCounter(items[2].key);
    expect(bucket).toBeLessThanOrEqual(settled.requests);
    expect(bucket).toBeGreaterThan(settled.requests - 5);
  });

  it('instances racing for a small limit never pass it together, and leases shrink near it', async () => {
    const org = uniqueOrg();
    const fleet = await Promise.all([instance(1000), instance(1000), instance(1000)]);
    const max = 5000;
    const items = [limit(org, 'org:daily', 'fixed_window', DAY, max), limit(org, 'project:p:daily', 'fixed_window', DAY, 1_000_000)];
    let admitted = 0;
    const one = async (store: LeasedStore): Promise<void> => {
      const req = request(items, 10, 15);
      const outcome = await store.reserve(req);
      if (!outcome.ok) return;
      admitted += 25;
      await store.settle(req.id, { input: 10, output: 15, request: 1 });
    };
    // Five callers per instance, each sending its next request when the last is answered: 600 in all.
    const caller = async (store: LeasedStore): Promise<void> => {
      for (let i = 0; i < 40; i++) await one(store);
    };
    await Promise.all(fleet.flatMap((store) => Array.from({ length: 5 }, () => caller(store))));
    expect(admitted).toBeLessThanOrEqual(max);
    expect(fleet.reduce((n, s) => n + s.leaseStats().localAdmissions, 0)).toBeGreaterThan(0);
    // Leases held by the others may refuse a request early; once they are back, the rest of the room is there.
    await until(async () => fleet.every((s) => s.leaseStats().open === 0), 5000);
    for (let i = 0; i < 600 && admitted < max; i++) await one(fleet[i % 3]);
    expect(admitted).toBe(max);
    await until(async () => fleet.every((s) => s.leaseStats().open === 0), 5000);
    expect(await readCounter(items[0].key)).toBe(max);
    expect((await fleet[0].reserve(request(items, 10, 15))).ok).toBe(false);
  });

  it('the audit sees no drift while a lease is open (its figure less what is held equals the settled usage), and peek leaves its unused room out', async () => {
    const org = uniqueOrg();
    const store = await instance(60_000);
    const items = [limit(org, 'org:daily', 'fixed_window', DAY, 1_000_000)];
    let settled = 0;
    const open: string[] = [];
    for (let i = 0; i < 40; i++) {
      const req = request(items, 5, 10);
      expect((await store.reserve(req)).ok).toBe(true);
      if (i % 4 === 0) open.push(req.id);
      else {
        await store.settle(req.id, { input: 5, output: i % 10, request: 1 });
        settled += 5 + (i % 10);
      }
    }
    // The current lease, and retired ones that calls under way were admitted against.
    expect(store.leaseStats().open).toBeGreaterThanOrEqual(1);
    // The audit's arithmetic: peek less held. Both leave the unused room out (held counted it, so the audit
    // read it as negative drift).
    const [held] = await store.held(items);
    expect((await store.peek(items))[0].used - held).toBe(settled);
    expect(held).toBe(open.length * 15);
    // Its own view leaves the lease's unused room out: what is settled plus the calls under way.
    expect((await store.peek(items))[0].used).toBe(settled + open.length * 15);
    expect(await store.openReservations()).toBe(open.length);
    // Closing hands the lease back, counting the calls still under way as wholly used.
    await store.close();
    await until(async () => (await readCounter(items[0].key)) === settled + open.length * 15, 5000);
  });

  it('when Redis loses its counters (FLUSHALL), no budget is handed out again: once the lease has served its time, the counters are rebuilt and end exactly at the usage', async () => {
    const org = uniqueOrg();
    const store = await instance(300);
    const item = limit(org, 'org:daily', 'fixed_window', DAY, 1_000_000);
    // What the ledger would hold: every settled call.
    let ledger = 0;
    let rebuilds = 0;
    await store.rebuildWhenLost!([org], async () => {
      rebuilds++;
      await store.restore([{ item, used: ledger }]);
    });
    const call = async (): Promise<void> => {
      const req = request([item], 5, 10);
      expect((await store.reserve(req)).ok).toBe(true);
      await store.settle(req.id, { input: 5, output: 5, request: 1 });
      ledger += 10;
    };
    for (let i = 0; i < 10; i++) await call();
    expect(store.leaseStats().open).toBe(1);
    await raw.flushall();
    // The slice keeps serving until it ends (documented); its return then finds nothing to settle.
    for (let i = 0; i < 3; i++) await call();
    await until(async () => store.leaseStats().open === 0, 5000);
    expect(rebuilds).toBe(0);
    // The next request finds the counters gone: they are rebuilt from the ledger before it is admitted.
    for (let i = 0; i < 6; i++) await call();
    expect(rebuilds).toBe(1);
    await until(async () => store.leaseStats().open === 0, 5000);
    expect(await readCounter(item.key)).toBe(ledger);
  });

  it('a lease is not used past the end of the fixed window the store counted it in', async () => {
    const org = uniqueOrg();
    const windowStart = Math.ceil(Date.now() / 10_000) * 10_000 + 10_000;
    const clock = new ManualClock(windowStart + 9_950); // 50 ms before the 10 s window ends
    const store = await instance(1000, clock);
    const items = [limit(org, 'org:10s', 'fixed_window', { kind: 'duration', ms: 10_000 }, 1_000_000)];
    for (let i = 0; i < 8; i++) {
      const req = request(items, 1, 1);
      expect((await store.reserve(req)).ok).toBe(true);
      await store.settle(req.id, { input: 1, output: 1, request: 1 });
    }
    expect(store.leaseStats().granted).toBe(1);
    const local = store.leaseStats().localAdmissions;
    expect(local).toBeGreaterThan(0);
    clock.advance(49); // still inside the window: the lease serves
    const inside = request(items, 1, 1);
    await store.reserve(inside);
    expect(store.leaseStats().localAdmissions).toBe(local + 1);
    await store.settle(inside.id, { input: 1, output: 1, request: 1 });
    clock.advance(2); // the next window: Redis is asked
    const next = request(items, 1, 1);
    const outcome = await store.reserve(next);
    expect(store.leaseStats().localAdmissions).toBe(local + 1);
    expect(outcome.ok && outcome.states[0].used).toBe(2);
  });

  it('a lease is not used past the sliding window slot the store counted it in', async () => {
    const org = uniqueOrg();
    // A 20 s sliding window has 1 s slots; start 30 ms before a slot ends.
    const slotStart = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    const clock = new ManualClock(slotStart + 970);
    const store = await instance(1000, clock);
    const items = [limit(org, 'route:r:input', 'sliding_window', { kind: 'duration', ms: 20_000 }, 1_000_000)];
    for (let i = 0; i < 8; i++) {
      const req = request(items, 1, 1);
      await store.reserve(req);
      await store.settle(req.id, { input: 1, output: 1, request: 1 });
    }
    const local = store.leaseStats().localAdmissions;
    expect(local).toBeGreaterThan(0);
    clock.advance(31);
    await store.reserve(request(items, 1, 1));
    expect(store.leaseStats().localAdmissions).toBe(local);
  });

  it('a lease on a large token bucket lasts its period though the bucket drains it faster than calls use it', async () => {
    // 1e9 tokens per hour drain ~278 per ms; the calls use 50 every 2 ms. A lease sized for the calls alone
    // (~6,000 tokens for 200 ms) drains away within ~22 ms, and nearly every call went to Redis again.
    const org = uniqueOrg();
    const clock = new ManualClock(Date.now());
    const store = await instance(200, clock);
    const items = [limit(org, 'route:r:output', 'token_bucket', { kind: 'duration', ms: 3_600_000 }, 1_000_000_000)];
    for (let i = 0; i < 200; i++) {
      const req = request(items, 20, 30);
      expect((await store.reserve(req)).ok).toBe(true);
      await store.settle(req.id, { input: 20, output: 30, request: 1 });
      clock.advance(2);
    }
    expect(store.leaseStats().localAdmissions).toBeGreaterThan(150);
  });

  it('a lease counted in Redis whose grant is not yet answered is not read as used: peek waits for it, and close hands it back', async () => {
    const org = uniqueOrg();
    const items = [limit(org, 'org:daily', 'fixed_window', DAY, 1_000_000)];
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const store = await gatedInstance(() => gate);
    let settled = 0;
    // Busy enough for a lease to be asked for.
    for (let i = 0; i < 4; i++) {
      const req = request(items, 5, 10);
      expect((await store.reserve(req)).ok).toBe(true);
      await store.settle(req.id, { input: 5, output: 5, request: 1 });
      settled += 10;
    }
    await until(async () => (await readCounter(items[0].key)) > settled, 5000);
    const peeked = store.peek(items);
    await new Promise((r) => setTimeout(r, 50));
    openGate();
    expect((await peeked)[0].used).toBe(settled);
    expect(store.leaseStats().open).toBe(1);

    // On shutdown: a lease granted while closing is handed back, not left counted until its record expires.
    const closing = await gatedInstance(() => new Promise((r) => setTimeout(r, 100)));
    const other = [limit(org, 'project:p:daily', 'fixed_window', DAY, 1_000_000)];
    for (let i = 0; i < 4; i++) {
      const req = request(other, 5, 10);
      expect((await closing.reserve(req)).ok).toBe(true);
      await closing.settle(req.id, { input: 5, output: 5, request: 1 });
    }
    await until(async () => (await readCounter(other[0].key)) > 40, 5000);
    await closing.close();
    expect(await readCounter(other[0].key)).toBe(40);
  });
});

/**
 * One instance whose lease grants are counted in Redis at once but answered only once `answered()`
 * resolves: the window a slow or busy connection leaves between the two.
 */
function gatedInstance(answered: () => Promise<void>): Promise<LeasedStore> {
  return instance(60_000, systemClock, (redis) =>
    new Proxy(redis, {
      get(target, name) {
        if (name === 'reserve') {
          return async (req: ReserveRequest) => {
            const outcome = await target.reserve(req);
            if (req.id.startsWith('lease-')) await answered();
            return outcome;
          };
        }
        const value = Reflect.get(target, name) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }),
  );
}

/** EVALSHA and EVAL calls so far, from INFO commandstats. */
function scriptCalls(info: string): number {
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) n += Number(m[1]);
  return n;
}

// The contract every counter store passes, through the lease wrapper (200 ms leases; time is the
// contract's ManualClock, which also stands in for Redis TIME). Its tests rarely make a key busy enough
// for a lease, so this checks that what the wrapper passes to Redis (refusals, clamping, `leaving`,
// shadow limits, owners) reads exactly as without it. With a lease asked for at a key's first request,
// five of its exact-value tests read differently, as documented: `peek` and `held` leave out this
// instance's unused lease room (the tests above check both).
counterStoreContract('redis with budget leases', async (clock, timezone) => {
  const client = createRedisClient(server.url, 2000);
  if (!(await waitReady(client, 5000))) throw new Error('no Redis');
  return new LeasedStore(new RedisCounterStore(client, { timezone, clock, reservationTtlMs: 60_000, timeOverride: clock }), { leaseMs: 200, clock });
});

// The remaining tokens a call admitted against a lease reads start from the store's figure at the grant
// (grant-figures.ts). Redis TIME is frozen here, so every call and the grant share one store millisecond: the
// figures must follow the order of the store's answers, not its clock. Under the clock, the grant and the
// call that asked for it in the same millisecond read 30 tokens too little room (CI 12-07).
describe('a lease-admitted call reads what the exact path would, whatever the order of the grant and the calls around it', () => {
  const settleAt20 = (store: LeasedStore, id: string): Promise<void> => store.settle(id, { input: 10, output: 10, request: 1 });
  const RESERVED = 50; // input 10 + max output 40
  const SETTLED = 20;

  /** Four exact calls on a frozen clock; the 4th (asking for the lease) is left open. */
  async function busyKey(): Promise<{ store: LeasedStore; item: CounterItem; fourth: string }> {
    const store = await instance(60_000, new ManualClock(Date.UTC(2026, 0, 15, 12)));
    const item = limit(uniqueOrg(), 'org:daily', 'fixed_window', DAY, 1_000_000);
    for (let i = 0; i < 3; i++) {
      const req = request([item], 10, 40);
      expect((await store.reserve(req)).ok).toBe(true);
      await settleAt20(store, req.id);
    }
    const fourth = request([item], 10, 40);
    expect((await store.reserve(fourth)).ok).toBe(true);
    return { store, item, fourth: fourth.id };
  }

  async function localCall(store: LeasedStore, item: CounterItem): Promise<number> {
    const before = store.leaseStats().localAdmissions;
    const outcome = await store.reserve(request([item], 10, 40));
    expect(store.leaseStats().localAdmissions).toBe(before + 1);
    return outcome.states[0].used;
  }

  it('the call that asked for the lease settles after the grant is answered', async () => {
    const { store, item, fourth } = await busyKey();
    await until(async () => store.leaseStats().open === 1, 5000);
    await settleAt20(store, fourth);
    expect(await localCall(store, item)).toBe(4 * SETTLED + RESERVED);
  });

  it('the call that asked for the lease settles while the grant is on its way', async () => {
    const { store, item, fourth } = await busyKey();
    expect(store.leaseStats().open).toBe(0);
    await settleAt20(store, fourth);
    await until(async () => store.leaseStats().open === 1, 5000);
    expect(await localCall(store, item)).toBe(4 * SETTLED + RESERVED);
  });

  it('a call the store admits while the grant is on its way, settled after it', async () => {
    const { store, item, fourth } = await busyKey();
    const fifth = request([item], 10, 40);
    expect((await store.reserve(fifth)).ok).toBe(true); // sent after the grant: not in its figure
    await settleAt20(store, fourth);
    await until(async () => store.leaseStats().open === 1, 5000);
    expect(await localCall(store, item)).toBe(4 * SETTLED + RESERVED + RESERVED);
    await settleAt20(store, fifth.id);
    expect(await localCall(store, item)).toBe(5 * SETTLED + 2 * RESERVED);
  });
});
