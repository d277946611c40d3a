// Reads `redis-sentinel://[user:password@]host:port[,host:port...]/<master name>[/db]` (`rediss-sentinel://`
// for TLS), the counter store behind Redis Sentinel. The layout is redis-py's and Lettuce's (sentinels as
// the host list, the master's name as the first path segment, then the database), spelled like
// `redis-cluster://`. The user and password are the data nodes'; sentinels that require their own are
// given `?sentinel_password=` (and `sentinel_username=`), as redis-py's `sentinel_` options do.
// Parsed by hand: a list of hosts is not a URL that `new URL` reads.

export const SENTINEL_SCHEME = /^rediss?-sentinel:\/\//;
/** Sentinel's own default port (the data nodes' is 6379). */
export const SENTINEL_DEFAULT_PORT = 26379;

export interface SentinelUrl {
  tls: boolean;
  /** The data nodes' credentials. */
  username?: string;
  password?: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
  sentinels: Array<{ host: string; port: number }>;
  /** The master's name, as the sentinels monitor it (`sentinel monitor <name> ...`). */
  name: string;
  db: number;
}

/** How a store URL's credentials must be written; every message about a malformed one ends with it. */
export const PERCENT_ENCODE = 'a user name or password with characters such as @ : / # ? must be percent-encoded';
const QUERY_PARAMS = new Set(['sentinel_username', 'sentinel_password']);

/** The URL's parts, or what is wrong with it in words that never repeat it (it may hold passwords). */
export function parseSentinelUrl(text: string): SentinelUrl | { problem: string } {
  const m = /^(rediss?)-sentinel:\/\/(?:([^@/?#]*)@)?([^/?#]*)([^?#]*)(?:\?([^#]*))?$/.exec(text);
  if (!m) return { problem: `is not a valid sentinel URL; ${PERCENT_ENCODE}` };
  const [, scheme, auth, hosts, path, query] = m;
  if (!decodes(auth ?? '', path!, query ?? '')) return { problem: `holds a malformed %-escape; ${PERCENT_ENCODE}` };

  const sentinels: SentinelUrl['sentinels'] = [];
  for (const node of hosts!.split(',')) {
    const hp = /^(\[[^\]]+\]|[^:[\]@]+)(?::(\d*))?$/.exec(node);
    if (!hp) return { problem: `a sentinel needs host[:port] (the port defaults to ${SENTINEL_DEFAULT_PORT}; ${PERCENT_ENCODE})` };
    const port = hp[2] === undefined ? SENTINEL_DEFAULT_PORT : Number(hp[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535 || hp[2] === '') return { problem: "a sentinel's port must be a number from 1 to 65535" };
    sentinels.push({ host: hp[1]!.replace(/^\[|\]$/g, ''), port });
  }

  const segments = path!.split('/').slice(1);
  if (segments.length === 0 || segments[0] === '') return { problem: 'names no master: add the name the sentinels monitor, e.g. `redis-sentinel://s1:26379,s2:26379/mymaster`' };
  if (segments.length > 2 || (segments.length === 2 && !/^\d+$/.test(segments[1]!))) return { problem: 'the database after the master name must be a number, e.g. `redis-sentinel://s1:26379/mymaster/2`' };

  const params = new URLSearchParams(query ?? '');
  for (const name of params.keys()) {
    // The unknown name is not repeated either: a password pasted without its `sentinel_password=` is one.
    if (!QUERY_PARAMS.has(name)) return { problem: 'takes no query parameters but `sentinel_username` and `sentinel_password` (for sentinels that require their own credentials)' };
  }
  const colon = auth ? auth.indexOf(':') : -1;
  const [username, password] = auth ? (colon < 0 ? [auth, ''] : [auth.slice(0, colon), auth.slice(colon + 1)]).map(decodeURIComponent) : ['', ''];
  const sentinelUsername = params.get('sentinel_username') ?? '';
  const sentinelPassword = params.get('sentinel_password') ?? '';
  return {
    tls: scheme === 'rediss',
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(sentinelUsername ? { sentinelUsername } : {}),
    ...(sentinelPassword ? { sentinelPassword } : {}),
    sentinels,
    name: decodeURIComponent(segments[0]!),
    db: segments.length === 2 ? Number(segments[1]) : 0,
  };
}

/** Whether every %-escape decodes (URLSearchParams forgives malformed ones; decodeURIComponent throws). */
export function decodes(...parts: string[]): boolean {
  try {
    for (const part of parts) decodeURIComponent(part);
    return true;
  } catch {
    return false;
  }
}
