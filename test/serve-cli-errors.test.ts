// `tollgate serve` refusing to start: a bad --port is a usage error (exit 1, as for commander's other usage errors), a port already taken is
// one clear line (not a stack trace) and a non-zero exit. The built CLI, in a child process.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, writeConfig } from './helpers/processes.js';

let config: string;
let taken: Server;
let takenPort: number;

beforeAll(async () => {
  config = writeConfig(`
providers:
  demo: {type: mock}
projects:
  web: {daily_limit: 1000}
routes:
  main:
    chat_models: [{model_id: m, model: demo/m}]
keys:
  - {id: a, key: tg-a, project: web}
`);
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

/** Runs `tollgate serve --config <config> ...args` to its exit (the ledger lands in the config's temp dir). */
function serve(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return tollgate(['serve', '--config', config, ...args]);
}

/** Runs `tollgate ...args` to its exit, in the config's temp dir. */
function tollgate(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before this test`);
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: path.dirname(config),
    env: { ...process.env, TOLLGATE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('tollgate serve start-up errors', () => {
  it.each(['abc', '-1', '70000', '4000x', '1.5'])('refuses --port %s as a usage error with exit 1', async (port) => {
    const { code, stderr, stdout } = await serve(['--port', port]);
    expect(code).toBe(1);
    expect(stderr).toContain(`--port must be a whole number from 0 to 65535, not '${port}'`);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).not.toContain('listening on');
  });

  it('reports a port already in use as one line and exits non-zero', async () => {
    const { code, stderr, stdout } = await serve(['--host', '127.0.0.1', '--port', String(takenPort)]);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stderr.trim()).toBe(`tollgate: cannot listen on 127.0.0.1:${takenPort}: address already in use`);
    expect(stdout).not.toContain('listening on');
  });

  it('reports a server.host that does not resolve as one line, with the port, and exits 1', async () => {
    const unknownHost = writeConfig('server: {host: gateway.invalid, port: 4142}\nstorage: {ledger: "sqlite:./l.db"}\n');
    const { code, stderr, stdout } = await tollgate(['serve', '--config', unknownHost]);
    expect(code).toBe(1);
    // No network at all makes the lookup fail as "could not be looked up" instead: one line either way.
    expect(stderr.trim()).toMatch(/^tollgate: cannot listen on gateway\.invalid:4142: (no such host|the host name could not be looked up)/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stdout).not.toContain('listening on');
  });

  it('reports an address this machine does not have as one line, and exits 1', async () => {
    const { code, stderr } = await serve(['--host', '192.0.2.1', '--port', '4143']); // TEST-NET-1: documentation only
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('tollgate: cannot listen on 192.0.2.1:4143: address not available on this host');
  });

  it('refuses a --host that is no host name or address as a usage error', async () => {
    const { code, stderr, stdout } = await serve(['--host', 'not a host!']);
    expect(code).toBe(1);
    expect(stderr).toContain("--host must be a host name or an IP address, not 'not a host!'");
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).not.toContain('listening on');
  });

  it('asks for --config when none is given, with an example', async () => {
    const { code, stderr } = await tollgate(['serve']);
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('tollgate serve: give a config file with --config FILE (for example --config examples/quickstart.yaml)');
  });

  it("describes --config in every command's help without a `(default: [])` of commander's", async () => {
    for (const command of ['serve', 'check', 'usage', 'audit']) {
      const { code, stdout } = await tollgate([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(/-c, --config <file>/);
      expect(stdout).not.toContain('default: []');
    }
  });

  it('refuses a TOLLGATE_LOG_LEVEL that is no log level in one line, naming the levels (pino threw a stack trace)', async () => {
    const { code, stderr } = await tollgate(['serve', '--config', config], { TOLLGATE_LOG_LEVEL: 'verbose' });
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('tollgate serve: TOLLGATE_LOG_LEVEL=verbose is not a log level; use one of trace, debug, info, warn, error, fatal, silent (info when unset)');
  });

  it('suggests --config for a config file given as a bare argument', async () => {
    const { code, stderr } = await tollgate(['serve', 'tollgate.yaml']);
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('tollgate serve: config files are given with --config: tollgate serve --config tollgate.yaml');
  });
});
