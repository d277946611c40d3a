// Reloads and shutdown together. Regression tests from an operator's day: after a config reload, SIGTERM
// waited only for the calls of the new configuration, so a stream admitted before the reload and cut at the
// drain timeout was recorded after the ledger had closed: its row was lost ("the SQLite ledger is closed").
// A SIGHUP during the drain did the same to every stream in flight, and logged a failed counter rebuild.
import { execFileSync } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { CLI, startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

// Each stream runs 40 chunks 100 ms apart: 4 s, far past the 300 ms drain timeout.
const config = `
server: {drain_timeout_ms: 300}
storage: {ledger: "sqlite:./shutdown.db"}
providers: {demo: {type: mock, output_tokens: 40}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a}]
`;

let gateway: RunningProcess | undefined;
afterEach(async () => {
  await gateway?.stop('SIGKILL');
  gateway = undefined;
});

/** Starts a slow stream and resolves once its first chunk arrived (the call is admitted and in flight). */
async function streamStarted(url: string): Promise<{ rest: Promise<string> }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a' },
    body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }], max_tokens: 100, mock_chunk_delay_ms: 100 }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  await reader.read();
  // The rest is read to its end (or its cut) so the connection is not left hanging. Wrapped: an async
  // function's promise of a promise would wait for the whole stream.
  const rest = (async () => {
    let text = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return text;
        text += new TextDecoder().decode(value);
      }
    } catch {
      return text;
    }
  })();
  return { rest };
}

function exited(g: RunningProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (g.child.exitCode !== null || g.child.signalCode !== null) return resolve(g.child.exitCode);
    g.child.once('exit', (code) => resolve(code));
  });
}

/** The calls the ledger holds for key `a`, read by `tollgate usage` once the gateway is gone. */
function ledgerCalls(file: string): number {
  const out = execFileSync(process.execPath, [CLI, 'usage', '--config', file, '--by', 'key', '--format', 'json'], { encoding: 'utf8' });
  return (JSON.parse(out) as { totals: { calls: number } }).totals.calls;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('records a stream admitted before a reload and cut by the drain after it', async () => {
  const file = writeConfig(config);
  gateway = await startCli(['serve', '--config', file, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
  const { rest } = await streamStarted(gateway.url);
  gateway.child.kill('SIGHUP');
  const g = gateway;
  expect(await pauseUntil(() => g.output().includes('configuration reloaded'))).toBe(true);
  gateway.child.kill('SIGTERM');
  expect(await exited(gateway)).toBe(0);
  await rest;
  expect(gateway.output()).not.toContain('ledger is closed');
  expect(ledgerCalls(file)).toBe(1);
});

it('ignores a SIGHUP during the drain and still records the streams it cuts', async () => {
  const file = writeConfig(config);
  gateway = await startCli(['serve', '--config', file, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
  const { rest } = await streamStarted(gateway.url);
  gateway.child.kill('SIGTERM');
  await pause(50);
  gateway.child.kill('SIGHUP');
  expect(await exited(gateway)).toBe(0);
  await rest;
  const out = gateway.output();
  expect(out).not.toContain('ledger is closed');
  expect(out).not.toContain('could not rebuild');
  expect(out).toContain('reload ignored');
  expect(ledgerCalls(file)).toBe(1);
});

async function pauseUntil(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (check()) return true;
    await pause(50);
  }
  return false;
}
