// A PostgreSQL ledger reached over TLS as managed databases document it, with libpq's parameters:
// `?sslmode=verify-full&sslrootcert=/path/ca.pem`. The driver read only sslmode and sent sslrootcert to
// the server as a setting, so such a URL failed on a certificate Node does not trust. Against a private
// server that refuses plain connections: a gateway writes its rows, `tollgate usage` reads them, and a
// wrong CA or a missing file is refused with a message that says which.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTlsPostgres, type TlsPostgres } from './helpers/postgres-tls.js';
import { CLI, startCli, writeConfig } from './helpers/processes.js';
import { makeTestCertificates, type TestCertificates } from './helpers/test-certificates.js';

const run = promisify(execFile);
let certs: TestCertificates;
let pg: TlsPostgres;

beforeAll(async () => {
  certs = makeTestCertificates();
  pg = await startTlsPostgres(certs);
}, 60_000);

afterAll(async () => {
  await pg?.stop();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

/** `tollgate usage` on the ledger at `url`; resolves to its JSON report, or rejects with its stderr. */
async function usage(url: string): Promise<{ totals: { calls: number } }> {
  try {
    const { stdout } = await run(process.execPath, [CLI, 'usage', '--ledger', url, '--format', 'json', '--since', '1d']);
    return JSON.parse(stdout);
  } catch (err) {
    throw new Error((err as { stderr?: string }).stderr ?? String(err));
  }
}

describe('a PostgreSQL ledger over TLS (sslmode, sslrootcert)', () => {
  it('refuses plain connections (so what connects uses TLS)', async () => {
    await expect(usage(`${pg.url}?sslmode=disable`)).rejects.toThrow(/no encryption|pg_hba/);
  });

  it('verify-full with the CA as sslrootcert: the gateway writes its rows and the report reads them', async () => {
    const ledger = `${pg.url}?sslmode=verify-full&sslrootcert=${certs.ca}`;
    const gateway = await startCli(['serve', '--config', writeConfig(`
storage: {ledger: "${ledger}"}
providers:
  mock: {type: mock}
projects: {p: {daily_limit: 100000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: mock/gpt-4o}]
keys: [{id: a, key: tg-pg-tls, project: p}]
`), '--port', '0']);
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer tg-pg-tls' },
          body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 20 }),
        });
        expect(res.status).toBe(200);
      }
    } finally {
      expect(await gateway.stop()).toBe(0); // flushes the ledger
    }
    expect((await usage(ledger)).totals.calls).toBe(3);
    // By host name too (the certificate names localhost), and with the chain checked alone (verify-ca).
    expect((await usage(`${ledger.replace('127.0.0.1', 'localhost')}`)).totals.calls).toBe(3);
    expect((await usage(`${pg.url}?sslmode=verify-ca&sslrootcert=${certs.ca}`)).totals.calls).toBe(3);
  }, 60_000);

  it('a CA that did not sign the server certificate, or a file that is not there, is refused saying why', async () => {
    await expect(usage(`${pg.url}?sslmode=verify-full&sslrootcert=${certs.cert}`)).rejects.toThrow(/unable to verify|self[- ]signed|certificate/);
    const missing = path.join(certs.dir, 'missing.pem');
    await expect(usage(`${pg.url}?sslmode=verify-full&sslrootcert=${missing}`)).rejects.toThrow(`cannot read sslrootcert ${missing}: ENOENT`);
  });
});
