// The one CounterStore contract: every implementation (memory, Redis, Redis Cluster) runs these same test
// bodies. Time is a ManualClock; the Redis store takes it as a test-only replacement for Redis TIME.
// The bodies live in one file per theme (windows, token buckets, reservations, settlements, restore and
// peek, response owners); this one gives each test a fresh store and names them all, in one suite per store.
import { ownerRecordsContract } from './owner-records.contract.js';
import { afterEach, describe } from 'vitest';
import type { Algorithm, WindowSpec } from '../config/policy.js';
import { ManualClock } from '../util/clock.js';
import type { CounterItem, CounterStore, ReserveOutcome } from './counter-store.js';
import { reservationContract } from './reservations.contract.js';
import { restoreAndPeekContract } from './restore-and-peek.contract.js';
import { settlementContract } from './settlements.contract.js';
import { tokenBucketContract } from './token-bucket.contract.js';
import { calendarWindowContract, fixedWindowContract, slidingWindowContract } from './windows.contract.js';

/** Builds a fresh store reading time from `clock`, with calendar windows in `timezone`. */
export type StoreFactory = (clock: ManualClock, timezone: string) => Promise<CounterStore>;

/** What the themed parts of the contract build their tests with. */
export interface ContractKit {
  /** A fresh store whose clock starts at `startMs`, and a fresh organization for the test's items. */
  setup(startMs: number, timezone?: string): Promise<{ clock: ManualClock; store: CounterStore }>;
  /** A limit of the test's organization; `measure` says what it counts. */
  item(key: string, algorithm: Algorithm, window: WindowSpec, max: number, measure?: 'total' | 'input' | 'output' | 'requests'): CounterItem;
  /** Reserves with a fresh id. */
  tryReserve(store: CounterStore, items: CounterItem[], input: number, output?: number, clamp?: boolean): Promise<ReserveOutcome>;
  /** What each item's counter holds now. */
  used(store: CounterStore, items: CounterItem[]): Promise<number[]>;
}

/** Registers the contract tests for one implementation. */
export function counterStoreContract(name: string, factory: StoreFactory): void {
  describe(`CounterStore contract: ${name}`, () => {
    const open: CounterStore[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    // Each test gets its own organization, so stores sharing one Redis never see each other's counters.
    let org = '';
    async function setup(startMs: number, timezone = 'UTC'): Promise<{ clock: ManualClock; store: CounterStore }> {
      org = `c${Math.random().toString(36).slice(2, 10)}`;
      const clock = new ManualClock(startMs);
      const store = await factory(clock, timezone);
      open.push(store);
      return { clock, store };
    }
    function item(key: string, algorithm: Algorithm, window: WindowSpec, max: number, measure: 'total' | 'input' | 'output' | 'requests' = 'total'): CounterItem {
      const weights =
        measure === 'requests'
          ? { input: 0, output: 0, request: 1 }
          : { input: measure === 'output' ? 0 : 1, output: measure === 'input' ? 0 : 1, request: 0 };
      return { key: `tg:{${org}}:${key}`, algorithm, window, max, weights, mode: 'enforce' };
    }
    let n = 0;
    function tryReserve(store: CounterStore, items: CounterItem[], input: number, output = 0, clamp = false): Promise<ReserveOutcome> {
      return store.reserve({ id: `r${n++}`, items, input, output, clamp, minOutput: 1 });
    }
    const used = async (store: CounterStore, items: CounterItem[]): Promise<number[]> => (await store.peek(items)).map((s) => s.used);

    const kit: ContractKit = { setup, item, tryReserve, used };

    describe('fixed window', () => fixedWindowContract(kit));
    describe('sliding window', () => slidingWindowContract(kit));
    describe('token bucket', () => tokenBucketContract(kit));
    describe('calendar windows', () => calendarWindowContract(kit));
    describe('reservations', () => {
      reservationContract(kit);
      settlementContract(kit);
      restoreAndPeekContract(kit);
    });
    describe('response owners', () => ownerRecordsContract(setup, () => org));
  });
}
