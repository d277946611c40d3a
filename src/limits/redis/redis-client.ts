// Connects to Redis, Redis Cluster or the primary Redis Sentinel names from a `storage.counters` URL, with
// options that bound every call: a command timeout, no offline queue (a command while disconnected fails
// at once instead of waiting), no retries of a command, and reconnection with backoff in the background.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseSentinelUrl, SENTINEL_SCHEME, type SentinelUrl } from '../../config/sentinel-url.js';
import { withConnectionAdvice } from './connection-advice.js';
import { followSwitchMaster } from './sentinel-failover.js';

/** A single node or a cluster: the counter scripts run the same on both. */
export type RedisClient = Redis | Cluster;

/** The servers that hold the counters: a cluster's primaries, or the one server. */
export function primaries(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

// Reconnect quickly at first, then twice a second: recovery without a restart, without hammering a dead
// host, and within RECOVERY_HOLD_MS on every instance (see store-health.ts).
export const RECONNECT_MAX_MS = 500;
const reconnectDelay = (times: number): number => Math.min(50 * 2 ** Math.min(times, 5), RECONNECT_MAX_MS);

function nodeOptions(timeoutMs: number): RedisOptions {
  return {
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(1000, 4 * timeoutMs),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelay,
    reconnectOnError: selectFailed,
  };
}

/**
 * ioredis answers a refused `SELECT` (a database the server does not have, or any but 0 on a cluster node)
 * with an 'error' event and carries on in database 0, where the counters would mix with whatever lives
 * there. Reconnecting instead keeps the client from ever becoming ready: the store stays unavailable, and
 * the start-up log names Redis's refusal.
 */
function selectFailed(err: Error & { command?: { name?: string } }): 1 | false {
  return err.command?.name === 'select' ? 1 : false;
}

interface ClusterUrl {
  tls: boolean;
  username?: string;
  password?: string;
  nodes: Array<{ host: string; port: number }>;
}

/** Reads `redis-cluster://[user:password@]host:port[,host:port...]` (`rediss-cluster://` for TLS). */
function parseClusterUrl(url: string): ClusterUrl {
  const m = /^(rediss?)-cluster:\/\/(?:([^@/]*)@)?([^/?#]+)/.exec(url);
  if (!m) throw new Error('storage.counters: expected redis-cluster://host:port[,host:port...]');
  const [, scheme, auth, hosts] = m;
  const [user, password] = auth ? auth.split(':', 2).map(decodeURIComponent) : [];
  const nodes = hosts!.split(',').map((hp) => {
    const at = hp.lastIndexOf(':');
    const port = at > 0 ? Number(hp.slice(at + 1)) : 6379;
    if (!Number.isInteger(port)) throw new Error('storage.counters: a cluster node needs host:port');
    return { host: (at > 0 ? hp.slice(0, at) : hp).replace(/^\[|\]$/g, ''), port };
  });
  return { tls: scheme === 'rediss', ...(user ? { username: user } : {}), ...(password ? { password } : {}), nodes };
}

/** Options for the primary that the sentinels in a `redis-sentinel://` URL name, followed through failovers. */
function sentinelOptions(s: SentinelUrl, timeoutMs: number): RedisOptions {
  return {
    ...nodeOptions(timeoutMs),
    sentinels: s.sentinels,
    name: s.name,
    role: 'master',
    db: s.db,
    ...(s.username ? { username: s.username } : {}),
    ...(s.password ? { password: s.password } : {}),
    ...(s.sentinelUsername ? { sentinelUsername: s.sentinelUsername } : {}),
    ...(s.sentinelPassword ? { sentinelPassword: s.sentinelPassword } : {}),
    ...(s.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
    // Every sentinel down: ask them again as soon as a node would be reconnected to.
    sentinelRetryStrategy: reconnectDelay,
    // A sentinel that accepts the connection but does not answer must not hold the reconnection forever.
    sentinelCommandTimeout: Math.max(1000, 4 * timeoutMs),
    // The sentinels' +switch-master is followed by followSwitchMaster (sentinel-failover.ts), not by ioredis.
    failoverDetector: false,
    // A primary turned replica answers writes with READONLY: reconnect, and the sentinels name the new
    // one. The call itself is not sent again (1, not 2): it fails, and `on_store_error` decides.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 1 : selectFailed(err)),
  };
}

/** Creates the client for a `redis[s]://`, `redis[s]-cluster://` or `redis[s]-sentinel://` URL; it connects in the background. */
export function createRedisClient(url: string, timeoutMs: number): RedisClient {
  let client: RedisClient;
  if (SENTINEL_SCHEME.test(url)) {
    const sentinelUrl = parseSentinelUrl(url);
    if ('problem' in sentinelUrl) throw new Error(`storage.counters: ${sentinelUrl.problem}`);
    const redis = new Redis(sentinelOptions(sentinelUrl, timeoutMs));
    followSwitchMaster(redis, sentinelUrl, reconnectDelay);
    client = redis;
  } else if (/^rediss?-cluster:/.test(url)) {
    const c = parseClusterUrl(url);
    const redisOptions: RedisOptions = {
      ...nodeOptions(timeoutMs),
      ...(c.username ? { username: c.username } : {}),
      ...(c.password ? { password: c.password } : {}),
      ...(c.tls ? { tls: {} } : {}),
    };
    const options: ClusterOptions = {
      enableOfflineQueue: false,
      redisOptions,
      clusterRetryStrategy: reconnectDelay,
      slotsRefreshTimeout: Math.max(1000, 4 * timeoutMs),
      scaleReads: 'master',
    };
    client = new Cluster(c.nodes, options);
  } else {
    client = new Redis(url, nodeOptions(timeoutMs));
  }
  // Without a listener, an 'error' event would crash the process; failures are reported by the store.
  // The last one is kept: a start-up that gets no answer says why.
  // A cluster's own error only says "Failed to refresh slots cache."; the last node's error says why
  // (WRONGPASS is not a network problem).
  const tls = /^rediss/.test(url);
  client.on('error', (err: ConnectionError) => {
    // A command refused because the connection is down says nothing of why it is: the cause is kept.
    if (err.message.startsWith(NOT_CONNECTED) && lastErrors.has(client)) return;
    const cause = err.lastNodeError ?? err;
    lastErrors.set(client, withConnectionAdvice(err.lastNodeError ? `${err.message} ${cause.message}` : err.message, cause.code, tls));
  });
  return client;
}

type ConnectionError = Error & { code?: string; lastNodeError?: Error & { code?: string } };

/** ioredis's refusal of a command sent while disconnected (the offline queue is off). */
const NOT_CONNECTED = "Stream isn't writeable";

const lastErrors = new WeakMap<RedisClient, string>();

/** The client's last connection or command error, if any (Redis's reply or the socket's error; no credentials). */
export function lastErrorOf(client: RedisClient): string | undefined {
  return lastErrors.get(client);
}

/** Resolves true once the client is ready, false after `timeoutMs` (it keeps trying in the background). */
export async function waitReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  if (!(await readyEvent(client, timeoutMs))) return false;
  if (!(client instanceof Cluster)) return true;
  // A cluster connects to each node lazily, on its first command: do it now, not inside the first burst.
  for (;;) {
    try {
      await Promise.all(primaries(client).map((node) => node.ping()));
      return true;
    } catch {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function readyEvent(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ok);
    };
    const onReady = (): void => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.on('ready', onReady);
  });
}
