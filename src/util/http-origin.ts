// The http:// address of a host and port, as `server.host` / `--host` give them.
import { isIPv6 } from 'node:net';

/** `http://host:port`, with an IPv6 address in brackets (RFC 3986): `http://:::4000` is no URL, `http://[::]:4000` is. */
export function httpOrigin(host: string, port: number): string {
  return `http://${isIPv6(host) ? `[${host}]` : host}:${port}`;
}
