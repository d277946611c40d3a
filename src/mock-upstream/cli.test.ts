import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url));
const children: ChildProcessWithoutNullStreams[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(args: string[]): { child: ChildProcessWithoutNullStreams; stdout: () => string; ready: Promise<string> } {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` before this test`);
  const child = spawn(process.execPath, [cli, 'mock-upstream', ...args], { stdio: 'pipe' });
  children.push(child);
  let out = '';
  let err = '';
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`exited with ${code} before listening: ${err}`)));
  });
  return { child, stdout: () => out, ready };
}

const exited = (child: ChildProcessWithoutNullStreams) =>
  new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

describe('tollgate mock-upstream (child process)', () => {
  it('prints one listening line with the real port, answers, and exits 0 on SIGTERM', async () => {
    const { child, stdout, ready } = start(['--port', '0', '--output-tokens', '5']);
    const url = await ready;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/);
    const models = await fetch(url + '/v1/models');
    expect((await models.json()).object).toBe('list');
    const chat = await fetch(url + '/v1/chat/completions', {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect((await chat.json()).usage.completion_tokens).toBe(5);
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done).toBe(0);
    expect(stdout().trim().split('\n')).toHaveLength(1);
  });

  it('exits 0 on SIGINT even with a stream in flight, and enforces --api-key', async () => {
    const { child, ready } = start(['--port', '0', '--api-key', 'k1', '--chunk-delay-ms', '50', '--latency-ms', '1']);
    const url = await ready;
    expect((await fetch(url + '/v1/models')).status).toBe(401);
    const res = await fetch(url + '/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: 'Bearer k1' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    const done = exited(child);
    child.kill('SIGINT');
    expect(await done).toBe(0);
    await reader.read().catch(() => undefined); // the stream was cut; only the exit code matters here
  });

  it('reports a port already in use as one line and exits 1', async () => {
    const first = start(['--port', '0']);
    const port = new URL(await first.ready).port;
    const second = start(['--port', port]);
    let stderr = '';
    second.child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await expect(second.ready).rejects.toThrow(/exited with 1/);
    expect(stderr.trim()).toBe(`tollgate mock-upstream: cannot listen on 127.0.0.1:${port}: address already in use`);
  });

  // Regression (QA): `--port 99999` passed the check and crashed in listen() with a RangeError stack trace.
  it('rejects a bad option in one line with exit 1, as serve does', async () => {
    const refusals = [
      [['--port', 'abc'], "--port must be a whole number from 0 to 65535, not 'abc'."],
      [['--port', '99999'], "--port must be a whole number from 0 to 65535, not '99999'."],
      [['--latency-ms', '-5'], "--latency-ms must be a whole number from 0 to 2147483647, not '-5'."],
      [['--chunk-delay-ms', '3000000000'], "--chunk-delay-ms must be a whole number from 0 to 2147483647, not '3000000000'."],
      [['--output-tokens', '1.5'], "--output-tokens must be a whole number, 0 or more, not '1.5'."],
      [['--host', 'not a host!'], "--host must be a host name or an IP address, not 'not a host!'."],
    ] as const;
    for (const [args, message] of refusals) {
      const { child, ready } = start(['--port', '0', ...args]);
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const closed = new Promise((resolve) => child.once('close', resolve));
      await expect(ready).rejects.toThrow(/exited with 1/);
      await closed;
      expect(stderr.trim().split('\n')).toEqual([expect.stringContaining(`is invalid. ${message}`)]);
    }
  });
});
