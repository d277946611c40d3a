// libpq's certificate parameters in a PostgreSQL URL (`sslrootcert`, `sslcert`, `sslkey`), as managed
// databases document them: `postgres://...?sslmode=verify-full&sslrootcert=/etc/ssl/rds-global-bundle.pem`.
// The `postgres` driver reads only `sslmode` and sends any other query parameter to the server as a
// setting, so such a URL failed on an untrusted certificate, or on a setting the server does not know.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

const FILE_PARAMETERS = ['sslrootcert', 'sslcert', 'sslkey'] as const;

/** The driver's URL and TLS options for a URL that names certificate files; undefined TLS options when it names none. */
export interface DriverTls {
  url: string;
  ssl?: ConnectionOptions;
}

/**
 * Reads the files the URL names and takes them (and `sslmode`) out of it. `sslrootcert` verifies the
 * server's chain against that CA, and its host name too under `verify-full` (under `require` and
 * `verify-ca` the chain only, as libpq does once a root certificate is given); `sslcert` and `sslkey` are a
 * client certificate. `sslrootcert=system` is the driver's own (Node's CAs, full verification).
 */
export function withCertificateFiles(text: string): DriverTls {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { url: text };
  }
  const files = FILE_PARAMETERS.filter((name) => url.searchParams.has(name) && !(name === 'sslrootcert' && url.searchParams.get(name) === 'system'));
  if (files.length === 0) return { url: text };
  const mode = url.searchParams.get('sslmode') ?? 'prefer';
  if (mode === 'disable') throw new Error(`sslmode=disable with ${files.join(', ')}: remove the certificate files or set sslmode=verify-full`);
  const read = (name: (typeof FILE_PARAMETERS)[number]): Buffer | undefined => {
    const path = url.searchParams.get(name);
    if (path === null || (name === 'sslrootcert' && path === 'system')) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read ${name} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const ca = read('sslrootcert');
  const cert = read('sslcert');
  const key = read('sslkey');
  for (const name of [...FILE_PARAMETERS, 'sslmode']) url.searchParams.delete(name);
  const ssl: ConnectionOptions = { ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  if (ca) {
    ssl.ca = ca;
    ssl.rejectUnauthorized = true;
    if (mode !== 'verify-full') ssl.checkServerIdentity = () => undefined;
  } else {
    // A client certificate alone: the server's is checked as the mode says (require: not at all).
    ssl.rejectUnauthorized = mode === 'verify-ca' || mode === 'verify-full';
  }
  return { url: url.toString(), ssl };
}
