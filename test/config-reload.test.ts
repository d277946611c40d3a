// SIGHUP reloads the configuration without losing counters; a bad new config keeps the old one running.
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const config = (extraKey: string, extraField = ''): string => `
storage: {ledger: "sqlite:./reload.db"}
providers: {demo: {type: mock, output_tokens: 10}}
projects: {p: {daily_limit: 1000${extraField}}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys:
  - {id: a, key: tg-a, project: p}
${extraKey}`;

let file: string;
let gateway: RunningProcess;

beforeAll(async () => {
  file = writeConfig(config(''));
  gateway = await startCli(['serve', '--config', file, '--port', '0']);
});
afterAll(async () => {
  await gateway?.stop();
});

async function call(key: string): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
  });
}

async function until(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('config reload', () => {
  it('picks up a new key on SIGHUP and keeps the counters', async () => {
    const first = await call('tg-a');
    const remaining = Number(first.headers.get('x-ratelimit-remaining-tokens'));
    expect(remaining).toBeLessThan(1000);
    expect((await call('tg-b')).status).toBe(401);

    writeFileSync(file, config('  - {id: b, key: tg-b, project: p}'));
    gateway.child.kill('SIGHUP');
    expect(await until(async () => (await call('tg-b')).status === 200)).toBe(true);
    // The project's counter kept what both keys spent: it did not start over at 1000.
    const after = await call('tg-a');
    expect(Number(after.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(remaining);
  });

  it('refuses a bad new config and keeps serving the old one', async () => {
    // The bad file drops key b: if it were applied, b would be refused.
    writeFileSync(file, config('', ', dialy_limit: 5'));
    gateway.child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 400));
    expect((await call('tg-b')).status).toBe(200);
    expect(gateway.output()).toContain('configuration reload failed');
    expect(gateway.child.exitCode).toBeNull();
  });
});
