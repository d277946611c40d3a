// Store URLs carry passwords (`redis://:pw@host`, `postgres://user:pw@host/db?password=pw`); log lines
// and messages name the store without them. Parsed by hand, not with URL: the drivers accept what URL
// refuses (an unencoded `@` in a password, a cluster's list of hosts), and such a URL must not leak either.

/** Query parameters whose values are secrets (PostgreSQL's `password`, `sslpassword`; tokens). */
const SECRET_PARAM = /pass|secret|token/i;

/** `url` with the password of its user part and every secret query value replaced by `***`. */
export function redactUrl(url: string): string {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) return url;
  const start = schemeEnd + 3;
  let end = queryEnd(url, start);
  // The user part ends at the last `@` before the query: a password may hold `@` and `/` unencoded.
  let at = url.lastIndexOf('@', end - 1);
  // It may hold `?` and `#` too (`postgres://u:p#w@db`, a mistake the drivers' URL parsers refuse, so
  // printed with their error): an `@` after the first of them, with a `:` before it, ends the user part.
  // A query value holding an `@` is then hidden along with the host: naming less is no leak.
  const lastAt = url.lastIndexOf('@');
  if (lastAt >= end && url.slice(start, lastAt).includes(':')) {
    at = lastAt;
    end = queryEnd(url, at + 1);
  }
  let head = url.slice(0, end);
  if (at >= start) {
    const userInfo = url.slice(start, at);
    const colon = userInfo.indexOf(':');
    const user = colon < 0 ? userInfo : userInfo.slice(0, colon);
    head = `${url.slice(0, start)}${colon < 0 ? user : `${user}:***`}@${url.slice(at + 1, end)}`;
  }
  return head + redactQuery(url.slice(end));
}

/** Where the query or fragment begins at or after `from` (the URL's length when there is none). */
function queryEnd(url: string, from: number): number {
  const at = url.slice(from).search(/[?#]/);
  return at < 0 ? url.length : from + at;
}

function redactQuery(rest: string): string {
  if (!rest.startsWith('?')) return rest;
  return rest.replace(/([?&])([^=&#]*)=([^&#]*)/g, (whole, sep: string, name: string) => (SECRET_PARAM.test(decodeURIComponentSafe(name)) ? `${sep}${name}=***` : whole));
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
