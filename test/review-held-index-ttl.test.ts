// Review of the held index (src/limits/redis/lua-held-index.ts): the index's own life. noteHeld sets the
// whole hash's expiry to the noting gateway's record TTL + 60 s on every reservation, shortening it as
// readily as lengthening it. storage.reservation_ttl_ms differs between gateways whenever their configs do
// (by default it is twice the longest provider timeout: compile.ts defaultReservationTtl), so one gateway with
// a short TTL sets the index of the organization to expire long before another gateway's calls in flight
// end (a background response, a long stream): once the hash expires (after the last short-TTL reservation,
// e.g. that gateway was drained), every call still in flight is no longer noted, and a rebuild compares
// the ledger with a counter whose reservations hide usage again (the 1,101-on-1,000 this index was made to
// end). Redis expiry runs on real time, so the test reads the hash's PTTL rather than waiting it out.
import { expect, it } from 'vitest';
import { configuredLimits } from '../src/ledger/configured-limits.js';
import { outputLimit } from './helpers/output-limit.js';
import type { RedisCounterStore } from '../src/limits/redis/redis-store.js';
import { ManualClock } from '../src/util/clock.js';
import { HELD_NOW as NOW, useStoresOnPrivateRedis } from './helpers/held-index-stores.js';

const INDEX = 'tg:{default}:held';
const { open: openStore } = useStoresOnPrivateRedis();

it("a gateway with a shorter reservation TTL does not cut the held index's life short of another gateway's calls in flight", async () => {
  const clock = new ManualClock(NOW);
  const open = (reservationTtlMs: number) => openStore({ clock, reservationTtlMs });
  const { store: long, client: raw } = await open(1_200_000); // providers with 10-minute timeouts
  const { store: short } = await open(120_000); // providers with 1-minute timeouts
  await raw.flushall();
  const [{ limit }] = configuredLimits(outputLimit('sliding_window'));
  const ask = (store: RedisCounterStore, id: string) => store.reserve({ id, items: [limit.item], input: 0, output: 100, clamp: false, minOutput: 0 });
  // A long call on the first gateway: noted until its record expires, 20 minutes from now.
  expect((await ask(long, 'long-call')).ok).toBe(true);
  expect(await raw.pttl(INDEX)).toBeGreaterThan(1_200_000);
  // A short call on the second, settled at once.
  expect((await ask(short, 'short-call')).ok).toBe(true);
  await short.settle('short-call', { input: 0, output: 10, request: 1 });
  expect(await raw.hexists(INDEX, 'tg:{default}:res:long-call')).toBe(1);
  expect(await raw.pttl(INDEX)).toBeGreaterThan(1_200_000); // ~180,000 on 8d8a864: the long call's entry goes 17 minutes early
});
