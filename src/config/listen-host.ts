// What `server.host` and `serve --host` may be: an IP address or a host name. Whether a name
// resolves is only known when the gateway listens; text that cannot be one is refused up front.
import { isIP } from 'node:net';

// Letters, digits, `-` and `_` (container and compose service names use it) in dot-separated labels.
const HOST_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** True for an IPv4 or IPv6 address or a syntactically valid host name. */
export function isListenHost(text: string): boolean {
  return isIP(text) !== 0 || HOST_NAME.test(text);
}
