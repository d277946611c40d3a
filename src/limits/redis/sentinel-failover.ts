// Following a Sentinel failover: leaving the old primary as soon as the sentinels announce the switch, and
// telling the store when the client is on another primary (the latest writes may be lost).
//
// A primary demoted while still reachable (a manual SENTINEL FAILOVER, a partition the gateway is on the
// old side of) would otherwise keep the connection until it is turned into a replica, seconds later, and
// writes it took meanwhile would be lost. ioredis's own detector (`failoverDetector`) is not used: it drops
// the connection at every `+switch-master`, including those that sentinels learning of the switch late
// publish after the client already reconnected to the new primary, which cut a healthy connection a second
// time (a second outage of the counter store, seen in CI). Here a connection is dropped only when it is not
// to the new primary.
import { Cluster, Redis } from 'ioredis';
import type { SentinelUrl } from '../../config/sentinel-url.js';

const CHANNEL = '+switch-master';
/** How long after an announcement a connection to another primary is still taken for a stale answer. */
const FOLLOW_MS = 30_000;
/** The pause before leaving such a connection again, while the sentinels catch up. */
const RETRY_MS = 100;

/** `address` as the announcement spells it: an IPv4 peer seen through an IPv6 socket is `::ffff:a.b.c.d`. */
function plainAddress(address: string | undefined): string | undefined {
  return address?.replace(/^::ffff:/, '');
}

/** The host and port the client's connection goes to, as the sentinels spell them (`host:port`). */
function connectedTo(client: Redis): string {
  return `${plainAddress(client.stream?.remoteAddress)}:${client.stream?.remotePort}`;
}

/**
 * Calls `listener` each time a Sentinel client is ready on another primary than before: a failover,
 * which may have lost the latest writes (replication is asynchronous). Other clients never call it.
 */
export function onPrimaryChange(client: Redis | Cluster, listener: () => void): void {
  if (client instanceof Cluster || !client.options.sentinels) return;
  let primary = client.status === 'ready' ? connectedTo(client) : undefined;
  client.on('ready', () => {
    const now = connectedTo(client);
    if (primary !== undefined && now !== primary) listener();
    primary = now;
  });
}

/**
 * Subscribes to every sentinel's `+switch-master` (`<name> <old ip> <old port> <new ip> <new port>`) and
 * reconnects `client` when its master `url.name` moved elsewhere; the subscriptions end with the client.
 */
export function followSwitchMaster(client: Redis, url: SentinelUrl, retryStrategy: (times: number) => number): void {
  /** The primary the sentinels last announced, and when. */
  let announced: { host: string; port: string; atMs: number } | undefined;
  const onAnnounced = (): boolean => client.status === 'ready' && announced !== undefined && connectedTo(client) === `${announced.host}:${announced.port}`;
  // Only a connection that is up is left. One on its way asks the sentinels anyway and is checked once
  // ready; and ioredis ends a client for good (status `end`, no more reconnection) when disconnect()
  // comes while it is still waiting for a sentinel's answer, which happened in CI under load.
  const leaveIfElsewhere = (): void => {
    if (client.status === 'ready' && !onAnnounced()) client.disconnect(true);
  };
  // Reconnection asks one sentinel for the primary, and one that has not learnt of the switch yet (the others
  // learn it from the leader within seconds) names the old one again: the client goes on leaving it.
  client.on('ready', () => {
    if (announced && Date.now() - announced.atMs < FOLLOW_MS && !onAnnounced()) setTimeout(leaveIfElsewhere, RETRY_MS);
  });
  const subscribers = url.sentinels.map(({ host, port }) => {
    const sub = new Redis({
      host,
      port,
      ...(url.sentinelUsername ? { username: url.sentinelUsername } : {}),
      ...(url.sentinelPassword ? { password: url.sentinelPassword } : {}),
      ...(url.tls ? { tls: {} } : {}),
      retryStrategy,
      // Only SUBSCRIBE is sent, and resent by ioredis on each reconnection.
      maxRetriesPerRequest: null,
    });
    // A sentinel that is down is the other sentinels' business; its subscription comes back with it.
    sub.on('error', () => {});
    sub.subscribe(CHANNEL).catch(() => {});
    sub.on('message', (_channel: string, message: string) => {
      const [name, , , newHost, newPort] = message.split(' ');
      if (name !== url.name || newHost === undefined || newPort === undefined) return;
      announced = { host: newHost, port: newPort, atMs: Date.now() };
      leaveIfElsewhere(); // the sentinels name the new primary on reconnection
    });
    return sub;
  });
  client.once('end', () => subscribers.forEach((sub) => sub.disconnect()));
}
