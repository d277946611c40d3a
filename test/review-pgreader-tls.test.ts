// Review of the PostgreSQL ledger's reader thread (src/ledger/postgres-reader-thread.ts): the TLS options
// (withCertificateFiles) reach the worker, whose checkServerIdentity cannot cross: verify-ca accepts a host
// name the certificate does not name (the chain alone, as libpq), verify-full refuses it, on the thread as
// on the main connection. Against a private TLS-only PostgreSQL (test/helpers/postgres-tls.ts), reached by
// this machine's host name when it resolves to 127.0.0.1 (the test certificate names 127.0.0.1 and localhost).
import { lookup } from 'node:dns/promises';
import { rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withCertificateFiles } from '../src/ledger/libpq-tls.js';
import { PostgresLedger } from '../src/ledger/postgres-ledger.js';
import { PostgresReaderThread } from '../src/ledger/postgres-reader-thread.js';
import { startTlsPostgres, type TlsPostgres } from './helpers/postgres-tls.js';
import { makeTestCertificates, type TestCertificates } from './helpers/test-certificates.js';

let certs: TestCertificates;
let pg: TlsPostgres;
let otherName: string | undefined;

beforeAll(async () => {
  certs = makeTestCertificates();
  pg = await startTlsPostgres(certs);
  const name = hostname();
  const found = await lookup(name, { family: 4 }).catch(() => undefined);
  if (found?.address === '127.0.0.1' && name !== 'localhost') otherName = name;
}, 60_000);

afterAll(async () => {
  await pg?.stop();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

describe('TLS options on the reader thread', () => {
  it('verify-full by a name the certificate holds: the ledger reads on its thread', async () => {
    const ledger = new PostgresLedger(`${pg.url.replace('127.0.0.1', 'localhost')}?sslmode=verify-full&sslrootcert=${certs.ca}`);
    try {
      await ledger.init();
      expect(await ledger.rows({})).toEqual([]);
      expect(await ledger.summarize({ groupBy: ['organization'] })).toEqual([]);
    } finally {
      await ledger.close();
    }
  });

  it('verify-ca by a name the certificate does not hold: served on the thread too; verify-full refused there, saying why', async (ctx) => {
    if (!otherName) return ctx.skip();
    const url = pg.url.replace('127.0.0.1', otherName);
    const ledger = new PostgresLedger(`${url}?sslmode=verify-ca&sslrootcert=${certs.ca}`);
    try {
      await ledger.init();
      expect(await ledger.events(0)).toEqual([]);
      expect(await ledger.summarize({ groupBy: [] })).toEqual([]);
    } finally {
      await ledger.close();
    }
    const full = withCertificateFiles(`${url}?sslmode=verify-full&sslrootcert=${certs.ca}`);
    const reader = new PostgresReaderThread(full.url, full.ssl);
    try {
      await expect(reader.all('SELECT 1 AS one', [])).rejects.toThrow(/Hostname\/IP does not match|altnames/);
    } finally {
      await reader.close();
    }
    // A CA that did not sign the server's certificate: refused on the thread.
    const wrong = withCertificateFiles(`${pg.url}?sslmode=verify-ca&sslrootcert=${certs.cert}`);
    const wrongReader = new PostgresReaderThread(wrong.url, wrong.ssl);
    try {
      await expect(wrongReader.all('SELECT 1 AS one', [])).rejects.toThrow(/unable to verify|self[- ]signed|certificate/);
    } finally {
      await wrongReader.close();
    }
  });

  it('sslmode=require with no files: TLS without verification, on the thread as on the main connection', async () => {
    const ledger = new PostgresLedger(`${pg.url}?sslmode=require`);
    try {
      await ledger.init();
      expect(await ledger.rows({ limit: 1 })).toEqual([]);
    } finally {
      await ledger.close();
    }
  });
});
