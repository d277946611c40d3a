// A Redis that evicts keys when it is full drops counters one at a time, silently: the organization's
// presence key (no TTL, touched by every reservation) survives, so no loss is noticed and the evicted
// limit's budget is handed out again (a daily limit of 1,000 admitted 1,432 under volatile-lru). Only
// `noeviction` keeps them; said at every connection, since a failover or a CONFIG SET may change it.
import type { Redis } from 'ioredis';
import { primaries, type RedisClient } from './redis-client.js';

interface WarnLog {
  warn(obj: object, msg: string): void;
}

/** The node's `maxmemory` and `maxmemory-policy` when it may evict keys; undefined when not, or INFO is refused. */
export async function evictingPolicy(node: Redis): Promise<{ maxmemory: number; policy: string } | undefined> {
  let info: string;
  try {
    info = await node.info('memory');
  } catch {
    return undefined; // an ACL without INFO: nothing to say
  }
  const maxmemory = Number(/^maxmemory:(\d+)/m.exec(info)?.[1] ?? 0);
  const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? 'noeviction';
  // maxmemory 0: no limit, nothing is evicted whatever the policy.
  return maxmemory > 0 && policy !== 'noeviction' ? { maxmemory, policy } : undefined;
}

/**
 * Logs a warning each time the client (re)connects to a node that may evict the counters, once per policy
 * seen; resolves once the node it is connected to now has been checked (at start-up, before serving).
 */
export function warnWhenEvicting(client: RedisClient, log: WarnLog, description: string): Promise<void> {
  let said = '';
  const check = async (): Promise<void> => {
    for (const node of primaries(client)) {
      const evicting = await evictingPolicy(node);
      if (!evicting || said === evicting.policy) continue;
      said = evicting.policy;
      log.warn(
        { store: description, maxmemory: evicting.maxmemory, maxmemory_policy: evicting.policy },
        `counter store may evict keys when full (maxmemory-policy ${evicting.policy}): a counter Redis evicts is not noticed, and its limit's budget is handed out again; set maxmemory-policy noeviction (a full Redis then refuses writes, which storage.on_store_error handles) or give the counters a Redis of their own`,
      );
      return;
    }
  };
  client.on('ready', () => void check());
  return client.status === 'ready' ? check() : Promise.resolve();
}
