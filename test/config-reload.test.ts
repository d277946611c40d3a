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

// Up to 10 s: a reload rebuilds the changed limits from the ledger, which on a busy CI machine took over 5 s.
async function until(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
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

// Regression test from an audit: a reload that changed a limit's algorithm (so its counter key) or its
// window started that limit from zero. A spent $0.005 cap let $0.0132 through across two reloads.
describe('config reload of a changed limit', () => {
  // 50 output tokens per window; each call asks for 10, so the sixth is refused.
  const limited = (limit: string, extraKey = ''): string => `
storage: {ledger: "sqlite:./reload-changed.db"}
providers: {demo: {type: mock, output_tokens: 10}}
routes:
  r:
    chat_models: [{model_id: m, model: demo/gpt-4o}]
    token_limiting: {output: {max_token: 50, ${limit}}}
keys:
  - {id: c, key: tg-c}
${extraKey}`;
  let changed: RunningProcess;
  afterAll(async () => {
    await changed?.stop();
  });
  const callR = (key: string): Promise<Response> =>
    fetch(`${changed.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
    });

  it('starts a limit whose algorithm or window changed from the ledger, not from zero', async () => {
    const file = writeConfig(limited('algorithm: fixed_window, window_size: 1 hour'));
    changed = await startCli(['serve', '--config', file, '--port', '0']);
    let admitted = 0;
    while ((await callR('tg-c')).status === 200) admitted++;
    expect(admitted).toBe(5);

    // Each new config adds a key, so the test knows when it is in force.
    const steps: Array<[string, string]> = [
      ['algorithm: fixed_window, window_size: 1 day', 'd1'],
      ['algorithm: sliding_window, window_size: 1 day', 'd2'],
      ['algorithm: token_bucket, window_size: 1 day', 'd3'],
    ];
    for (const [limit, key] of steps) {
      writeFileSync(file, limited(limit, `  - {id: ${key}, key: tg-${key}}`));
      changed.child.kill('SIGHUP');
      expect(await until(async () => (await callR(`tg-${key}`)).status !== 401), changed.output()).toBe(true);
      const refused = await callR('tg-c');
      expect(refused.status, limit).toBe(429);
      expect(refused.headers.get('x-tollgate-limit')).toBe('route:r:output');
    }
  });
});
