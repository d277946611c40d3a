// Ctrl-C drains in-flight requests like SIGTERM; a second Ctrl-C during the drain exits at once (130)
// instead of waiting up to the 30 s drain timeout.
import { afterAll, describe, expect, it } from 'vitest';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

let gateway: RunningProcess | undefined;
afterAll(async () => {
  await gateway?.stop('SIGKILL');
});

describe('tollgate serve interrupted twice', () => {
  it('exits with 130 at the second SIGINT while a request is still in flight', async () => {
    const file = writeConfig(`
storage: {ledger: "sqlite:./interrupt.db"}
providers: {demo: {type: mock}}
projects: {p: {daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys:
  - {id: a, key: tg-a, project: p}
`);
    gateway = await startCli(['serve', '--config', file, '--port', '0']);
    // The mock takes 20 s to answer: the drain would wait for it.
    const inFlight = fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, mock_latency_ms: 20_000 }),
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise<number | null>((resolve) => gateway!.child.once('exit', (code) => resolve(code)));
    gateway.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    expect(gateway.child.exitCode).toBeNull(); // still draining
    const second = Date.now();
    gateway.child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(Date.now() - second).toBeLessThan(2000);
    expect(gateway.output()).toContain('interrupted again');
    await inFlight;
  });
});
