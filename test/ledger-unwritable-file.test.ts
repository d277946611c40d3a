// A SQLite ledger file the gateway may not write. Regression test from an SRE pass: SQLite opened the file
// read-only without a word, so the gateway started and served, every row failed ("attempt to write a
// readonly database") and waited in memory, and all of them were lost at exit; with memory counters the
// next start then handed out the budget those calls had spent. The start now stops with one line.
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openLedger } from '../src/ledger/open-ledger.js';
import { CLI, REPO_ROOT } from './helpers/processes.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Root writes any file whatever its mode: the gateway runs as `nobody` then, as in a container. */
const NOBODY = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

/** Runs `tollgate serve` to its exit (or kills it once it says it listens), with what it printed. */
function serve(configFile: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile, '--port', '0'], {
    cwd: REPO_ROOT,
    env: { ...process.env, TOLLGATE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...NOBODY,
  });
  let output = '';
  const onData = (d: Buffer): void => {
    output += d.toString();
    if (/listening on http/.test(output)) child.kill('SIGKILL');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

it('refuses to start on a SQLite ledger file it may not write, naming the file, instead of losing every row', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-sre-ro-'));
  dirs.push(dir);
  // The directory is the gateway's to write (SQLite creates the WAL there): only the file is not.
  chmodSync(dir, 0o777);
  // A ledger made by an earlier gateway, then left read-only for this one (a volume restored with the wrong owner).
  const file = path.join(dir, 'ledger.db');
  const ledger = await openLedger(`sqlite:${file}`);
  await ledger.close();
  // The last connection to close checkpoints the WAL into the file and removes it: the schema is all in the file.
  new Database(file).close();
  expect(readdirSync(dir)).toEqual(['ledger.db']);
  chmodSync(file, 0o444);
  const config = path.join(dir, 'tollgate.yaml');
  writeFileSync(
    config,
    `storage: {counters: memory, ledger: "sqlite:${file}"}
providers: {demo: {type: mock}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a}]
`,
  );
  chmodSync(config, 0o644);

  const { code, output } = await serve(config);
  expect(output).not.toMatch(/listening on/);
  expect(code).toBe(1);
  expect(output.trim()).toBe(`storage.ledger: cannot write sqlite:${file}: ${file} is not writable (permission denied for this user); every call is recorded there, so the gateway does not start without it`);
}, 20_000);
