// Regression (QA): `tollgate audit --url` pointed at anything but a gateway's admin API crashed with a
// stack trace (JSON that is no audit report), exited 0 (`drifting` read off the wrong object), said only
// "fetch failed" (connection refused) or hung (no answer). Each is now one line on stderr and exit 1;
// 2 stays "drift". The built CLI, in a child process, against small local servers.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/processes.js';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;
const answers: Record<string, Answer> = {
  '/other-json': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok","lines":"many"}'),
  '/html': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><h1>Welcome</h1>'),
  '/not-found': (_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>'),
  '/refused': (_req, res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"admin key required\\nforged line"}}'),
  '/silent': () => undefined, // never answers
  '/report': (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ atMs: 0, lines: [], drifting: 0, openReservations: 0, skippedCalls: 0, skippedKeys: [] })),
};

let server: Server;
let base: string;
let closedPort: number;

beforeAll(async () => {
  server = createServer((req, res) => answers[(req.url ?? '').replace(/\/api\/audit$/, '')]?.(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // A port that was just free: nothing listens there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

function audit(url: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before this test`);
  const child = spawn(process.execPath, [CLI, 'audit', '--url', url, '--admin-key', 'tg-admin', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** One line on stderr, nothing on stdout, exit 1. */
function expectOneLineFailure(r: { code: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr.trimEnd()).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  expect(r.stdout).toBe('');
  expect(r.code).toBe(1);
}

describe('tollgate audit when the URL is no audit', () => {
  it('JSON that is not an audit report', async () => {
    expectOneLineFailure(await audit(`${base}/other-json`), /^tollgate audit: http:\/\/127\.0\.0\.1:\d+\/other-json\/api\/audit answered JSON that is not an audit report: is this the gateway's address\?$/);
  });

  it('an HTML page, answered 200 or 404', async () => {
    expectOneLineFailure(await audit(`${base}/html`), /answered HTTP 200 with text\/html, not JSON: is this the gateway's address\?$/);
    expectOneLineFailure(await audit(`${base}/not-found`), /answered HTTP 404 with text\/html, not JSON/);
  });

  it("the gateway's own refusal, its message kept on one line", async () => {
    expectOneLineFailure(await audit(`${base}/refused`), /\/api\/audit: HTTP 401: admin key required forged line$/);
  });

  it('connection refused names the reason, not "fetch failed"', async () => {
    expectOneLineFailure(await audit(`http://127.0.0.1:${closedPort}`), /cannot audit http:\/\/127\.0\.0\.1:\d+\/api\/audit: connection refused: is the gateway running there\? \(ECONNREFUSED\)$/);
  });

  it('no answer gives up after --timeout', async () => {
    const started = Date.now();
    expectOneLineFailure(await audit(`${base}/silent`, '--timeout', '1'), /no complete answer within 1 s \(--timeout\)$/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a real report still exits 0', async () => {
    const r = await audit(`${base}/report`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^audit at 1970-01-01T00:00:00\.000Z: 0 limits, 0 drifting$/m);
    expect(r.code).toBe(0);
  });
});
