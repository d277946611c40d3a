// Reloads asked for while the gateway is still starting. Regression tests from an operator's day: a SIGHUP
// sent between the config's load and the gateway being ready (a config reloader, `systemctl reload` racing a
// start) killed the process (SIGHUP's default action), and a save made in that time was never applied: the
// gateway served the file's previous keys and limits until the next save, a removed key included.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { CLI, writeConfig } from './helpers/processes.js';

// `lease_ms` with memory counters draws a config warning, logged right after the config is loaded and before
// the start's slower steps (tokenizer tables, the ledger): the test acts on that line, inside the start.
const config = (keys: string[]): string => `
storage: {ledger: "sqlite:./during-start.db", lease_ms: 1000}
providers: {demo: {type: mock, output_tokens: 5}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys:
${keys.map((k) => `  - {id: ${k}, key: tg-${k}}`).join('\n')}
`;

interface Starting {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first line matching `pattern`, or with undefined if the process exits first. */
  line: (pattern: RegExp) => Promise<string | undefined>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function serve(file: string): Starting {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', file, '--port', '0'], { env: { ...process.env, TOLLGATE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  const waiting: Array<() => void> = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiting.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.once('exit', () => {
    for (const w of waiting.splice(0)) w();
  });
  const line = (pattern: RegExp): Promise<string | undefined> =>
    new Promise((resolve) => {
      const check = (): void => {
        const found = out.split('\n').find((l) => pattern.test(l));
        if (found !== undefined) return resolve(found);
        if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
        waiting.push(check);
      };
      check();
    });
  return { child, output: () => out, line };
}

async function status(url: string, key: string): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer tg-${key}` },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function until(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 60; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function listening(g: Starting): Promise<string> {
  const ready = await g.line(/listening on http:\/\//);
  expect(ready, g.output()).toBeDefined();
  return /listening on (http:\/\/\S+)/.exec(ready!)![1];
}

it('survives a SIGHUP sent while it starts, and applies the config saved before it', async () => {
  const file = writeConfig(config(['a']));
  const g = serve(file);
  expect(await g.line(/config warning/), g.output()).toBeDefined();
  writeFileSync(file, config(['b'])); // drops key a, adds key b
  g.child.kill('SIGHUP');
  const url = await listening(g);
  expect(await until(async () => (await status(url, 'b')) === 200), g.output()).toBe(true);
  expect(await status(url, 'a')).toBe(401);
  expect(g.child.signalCode).toBeNull();
});

it('applies a config file saved while it starts, with no signal', async () => {
  const file = writeConfig(config(['a']));
  const g = serve(file);
  expect(await g.line(/config warning/), g.output()).toBeDefined();
  writeFileSync(file, config(['b']));
  const url = await listening(g);
  // The revoked key is refused, and the new one admitted, without another save.
  expect(await until(async () => (await status(url, 'a')) === 401), g.output()).toBe(true);
  expect(await status(url, 'b')).toBe(200);
});
