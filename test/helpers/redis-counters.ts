// Reading a limit's counter straight from Redis, as the tests check it against the usage they settled.
import type { Cluster, Redis } from 'ioredis';

/** A counter's usage: a fixed window's or bucket's `u`, or a sliding window's slots summed (field -1 is its length). */
export async function readCounter(redis: Redis | Cluster, key: string): Promise<number> {
  const h = await redis.hgetall(key);
  if ('u' in h) return Number(h.u);
  return Object.entries(h).reduce((s, [field, v]) => (field === '-1' ? s : s + Number(v)), 0);
}
