// A change to a config file reloads it however it is saved, an emptied file is refused like any bad
// config, and settings that only apply at start are named when a reload leaves them out.
import { renameSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const config = (keys: string[], server = ''): string => `
server: {max_body_bytes: 100000${server}}
storage: {ledger: "sqlite:./watch.db"}
providers: {demo: {type: mock, output_tokens: 5}}
projects: {p: {daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys:
${keys.map((k) => `  - {id: ${k}, key: tg-${k}, project: p}`).join('\n')}
`;

let gateway: RunningProcess | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

async function status(key: string): Promise<number> {
  const res = await fetch(`${gateway!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer tg-${key}` },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function until(check: () => boolean | Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

// How `sed -i`, vim and `mv` save: a new file renamed over the old one (a new inode each time).
function replace(file: string, text: string): void {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}

describe('config file watching', () => {
  it('reloads on every save that replaces the file, not only the first', async () => {
    const file = writeConfig(config(['a']));
    gateway = await startCli(['serve', '--config', file, '--port', '0']);
    expect(await status('b')).toBe(401);
    replace(file, config(['a', 'b']));
    expect(await until(async () => (await status('b')) === 200)).toBe(true);
    replace(file, config(['a', 'b', 'c']));
    expect(await until(async () => (await status('c')) === 200)).toBe(true);
    replace(file, config(['a', 'c']));
    expect(await until(async () => (await status('b')) === 401)).toBe(true);
  });

  it('refuses an emptied file on reload and keeps serving the keys it had', async () => {
    const file = writeConfig(config(['a']));
    gateway = await startCli(['serve', '--config', file, '--port', '0']);
    writeFileSync(file, ''); // `: > tollgate.yaml`
    expect(await until(() => gateway!.output().includes('configuration reload failed'))).toBe(true);
    expect(gateway.output()).toContain(`${file}:1: the file is empty`);
    expect(await status('a')).toBe(200);
  });

  it('names the changed settings that need a restart, and applies the rest', async () => {
    const file = writeConfig(config(['a']));
    gateway = await startCli(['serve', '--config', file, '--port', '0']);
    replace(file, config(['a', 'b'], ', port: 4149, timezone: Europe/Paris').replace('max_body_bytes: 100000', 'max_body_bytes: 200000').replace('"sqlite:./watch.db"', '"sqlite:./other.db", timeout_ms: 500'));
    expect(await until(async () => (await status('b')) === 200)).toBe(true);
    const warning = await until(() => gateway!.output().includes('need a restart'));
    expect(warning).toBe(true);
    const line = gateway.output().split('\n').find((l) => l.includes('need a restart'))!;
    // server.port is left out: `--port` decides it, before and after a restart.
    expect(JSON.parse(line)).toMatchObject({
      level: 40,
      restart: ['server.timezone', 'server.max_body_bytes', 'storage.ledger', 'storage.timeout_ms'],
    });
  });
});
