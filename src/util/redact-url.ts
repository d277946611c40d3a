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
  const queryAt = url.slice(start).search(/[?#]/);
  const end = queryAt < 0 ? url.length : start + queryAt;
  // The user part ends at the last `@` before the query: a password may hold `@` and `/` unencoded.
  const at = url.lastIndexOf('@', end - 1);
  let head = url.slice(0, end);
  if (at >= start) {
    const userInfo = url.slice(start, at);
    const colon = userInfo.indexOf(':');
    const user = colon < 0 ? userInfo : userInfo.slice(0, colon);
    head = `${url.slice(0, start)}${colon < 0 ? user : `${user}:***`}@${url.slice(at + 1, end)}`;
  }
  return head + redactQuery(url.slice(end));
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
