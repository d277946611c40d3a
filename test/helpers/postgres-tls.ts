// A private PostgreSQL server that accepts TLS connections only, started from this machine's PostgreSQL
// binaries in a temp directory (as the `postgres` OS user when the tests run as root: the server refuses
// to run as root), for tests of a ledger reached over TLS. Stop it in afterAll.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freeRedisPort } from './redis-servers.js';
import type { TestCertificates } from './test-certificates.js';

export interface TlsPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (add the sslmode and certificates). */
  url: string;
  stop(): Promise<void>;
}

/** The directory of the newest PostgreSQL server binaries installed (`/usr/lib/postgresql/<version>/bin`). */
function binaries(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  return path.join('/usr/lib/postgresql', versions[0]!, 'bin');
}

export async function startTlsPostgres(certs: TestCertificates): Promise<TlsPostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-pg-tls-'));
  const data = path.join(dir, 'data');
  // The server reads its key only if no one else may (0600, its own user's).
  copyFileSync(certs.cert, path.join(dir, 'server.pem'));
  copyFileSync(certs.key, path.join(dir, 'server.key'));
  chmodSync(path.join(dir, 'server.key'), 0o600);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const as = (command: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]);
  const bin = binaries();
  execFileSync(...as(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres']), { stdio: 'ignore' });
  // TLS connections only: a plain one is refused, so a test that connects has used TLS.
  writeFileSync(path.join(data, 'pg_hba.conf'), 'hostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n');
  const port = await freeRedisPort();
  const settings = ['-c', `listen_addresses=127.0.0.1`, '-c', 'ssl=on', '-c', `ssl_cert_file=${path.join(dir, 'server.pem')}`, '-c', `ssl_key_file=${path.join(dir, 'server.key')}`, '-k', dir, '-p', String(port)];
  const child: ChildProcess = spawn(...as(path.join(bin, 'postgres'), ['-D', data, ...settings]), { stdio: 'ignore' });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 15_000;
  while (spawnReady(bin, port, dir) === false) {
    if (Date.now() > deadline) throw new Error('the private PostgreSQL server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: async () => {
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        // runuser does not pass signals on: pg_ctl signals the server itself (fast: clients are cut).
        execFileSync(...as(path.join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'fast', '-w']), { stdio: 'ignore' });
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function spawnReady(bin: string, port: number, socketDir: string): boolean {
  try {
    execFileSync(path.join(bin, 'pg_isready'), ['-h', socketDir, '-p', String(port)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
