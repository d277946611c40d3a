// Where a command that talks to a running gateway's admin API (`tollgate audit`, `tollgate keys`) finds
// it: `--url`, else the config's server.host and server.port; the admin key from `--admin-key` or
// TOLLGATE_ADMIN_KEY.
import { redactUrl } from '../util/redact-url.js';
import { httpOrigin } from '../util/http-origin.js';

export interface AdminTargetOptions {
  config?: string[];
  url?: string;
  adminKey?: string;
}

/** The gateway's address and admin key; a problem to print; or undefined when the config's errors were printed. */
export async function adminTarget(opts: AdminTargetOptions): Promise<{ url: string; key: string } | { problem: string } | undefined> {
  let url = opts.url;
  if (!url && opts.config !== undefined) {
    // Only the address is read: the admin key comes from --admin-key or the environment.
    const { loadPolicyOrReport } = await import('./config-files.js');
    const policy = loadPolicyOrReport(opts.config, ['server.host', 'server.port']);
    if (!policy) return undefined;
    url = httpOrigin(policy.server.host, policy.server.port);
  }
  if (!url) return { problem: 'give --url URL or --config FILE' };
  // fetch refuses credentials in a URL anyway; the message must not repeat them.
  if (redactUrl(url) !== url) return { problem: `--url ${redactUrl(url)}: give the gateway's address without credentials (the admin key goes in --admin-key or TOLLGATE_ADMIN_KEY)` };
  const key = opts.adminKey ?? process.env.TOLLGATE_ADMIN_KEY;
  if (!key) return { problem: 'give --admin-key KEY or set TOLLGATE_ADMIN_KEY' };
  return { url, key };
}

/**
 * `path` under the gateway's address: behind any path prefix it is served at, its query and fragment left
 * out (appended after them, the path was part of the query, and `/` was asked). Undefined for an address
 * that is no http(s) URL.
 */
export function adminEndpoint(address: string, path: string): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  url.search = '';
  url.hash = '';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  return url.href;
}

export const NOT_HTTP = "not an http(s) URL (the gateway's address, such as http://127.0.0.1:4000)";
