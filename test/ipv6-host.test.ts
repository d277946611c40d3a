// `server.host` may be an IPv6 address (`::`, `::1`): the address `tollgate serve` prints and the one
// `tollgate audit --config` calls must then be URLs, with the address in brackets. The built CLI, in child processes.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const ADMIN = 'ipv6-admin';
let config: string;
let gateway: RunningProcess;

/** A port free on ::1 now (audit reads the port from the config, so it cannot be 0). */
function freePort(): Promise<number> {
  const probe = createServer();
  return new Promise((resolve) =>
    probe.listen(0, '::1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    }),
  );
}

/** Runs `tollgate ...args` to its exit, in the config's directory. */
function tollgate(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: path.dirname(config), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  config = writeConfig(`
server: {host: "::1", port: ${await freePort()}, admin_key: ${ADMIN}}
providers:
  demo: {type: mock}
routes:
  main:
    chat_models: [{model_id: m, model: demo/m}]
keys:
  - {id: a, key: tg-a}
`);
  gateway = await startCli(['serve', '--config', config]);
}, 30_000);
afterAll(async () => {
  await gateway?.stop();
});

describe('an IPv6 server.host', () => {
  it('tollgate serve prints a URL that reaches the gateway', async () => {
    expect(gateway.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  });

  it('tollgate audit --config reaches the gateway at that address', async () => {
    const { code, stdout, stderr } = await tollgate(['audit', '--config', config], { TOLLGATE_ADMIN_KEY: ADMIN });
    expect(stderr).toBe('');
    expect(stdout).toContain('0 drifting');
    expect(code).toBe(0);
  }, 20_000);
});
