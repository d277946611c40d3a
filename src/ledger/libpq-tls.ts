// libpq's certificate parameters in a PostgreSQL URL (`sslrootcert`, `sslcert`, `sslkey`), as managed
// databases document them: `postgres://...?sslmode=verify-full&sslrootcert=/etc/ssl/rds-global-bundle.pem`.
// The `postgres` driver reads only `sslmode` and sends any other query parameter to the server as a
// setting, so such a URL failed on an untrusted certificate, or on a setting the server does not know.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

const FILE_PARAMETERS = ['sslrootcert', 'sslcert', 'sslkey'] as const;

/** libpq's modes; the driver took any other word as a mode that verifies, and failed on a TLS error no one could read. */
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** The certificate files a URL names (`sslrootcert=system` is none: Node's own CAs). */
function certificateFiles(url: URL): string[] {
  return FILE_PARAMETERS.filter((name) => url.searchParams.has(name) && !(name === 'sslrootcert' && url.searchParams.get(name) === 'system'));
}

/**
 * What is wrong with a PostgreSQL URL's TLS settings, read from its text alone (`tollgate check` runs this
 * too, so a config that cannot start fails there, at its line). The files are read only at start.
 */
export function tlsSettingsProblem(url: URL): string | undefined {
  const mode = url.searchParams.get('sslmode');
  if (mode !== null && !SSL_MODES.includes(mode)) return `sslmode must be one of ${SSL_MODES.join(', ')}`;
  const files = certificateFiles(url);
  if (mode === 'disable' && files.length > 0) return `sslmode=disable with ${files.join(', ')}: remove the certificate files or set sslmode=verify-full`;
  return undefined;
}

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
  const problem = tlsSettingsProblem(url);
  if (problem) throw new Error(problem);
  const files = certificateFiles(url);
  if (files.length === 0) return { url: text };
  const mode = url.searchParams.get('sslmode') ?? 'prefer';
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
