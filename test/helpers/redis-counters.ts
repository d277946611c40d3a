// Reading a limit's counter straight from Redis, as the tests check it against the usage they settled,
// and filling a limit through a store.
import type { Cluster, Redis } from 'ioredis';
import type { CounterItem, CounterStore } from '../../src/limits/counter-store.js';

/** A counter's usage: a fixed window's or bucket's `u`, or a sliding window's slots summed (field -1 is its length). */
export async function readCounter(redis: Redis | Cluster, key: string): Promise<number> {
  const h = await redis.hgetall(key);
  if ('u' in h) return Number(h.u);
  return Object.entries(h).reduce((s, [field, v]) => (field === '-1' ? s : s + Number(v)), 0);
}

let fills = 0;

/** Reservations of `amount` (input tokens), each settled as used, until one is refused; what was admitted. */
export async function admitUntilRefused(store: CounterStore, limit: CounterItem, amount: number): Promise<number> {
  let admitted = 0;
  for (let i = 0; i < 100; i++) {
    const q = `fill${fills++}`;
    const r = await store.reserve({ id: q, items: [limit], input: amount, output: 0, clamp: false, minOutput: 1 });
    if (!r.ok) return admitted;
    await store.settle(q, { input: amount, output: 0, request: 1 });
    admitted += amount;
  }
  return admitted;
}
