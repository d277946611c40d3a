// Two gateway processes on one Redis and one PostgreSQL ledger, reloaded from a fixed window to a sliding one
// while calls are in flight on both configs. Gateway A's old calls were charged to the fixed window's count
// only; its rebuild once they had ended compared the sliding window's counter with the ledger while B's new
// call held 600 there, so it raised nothing, and once B's call settled at 1 token the limit had A's 400
// tokens of room again: a call asking 700 was admitted (1,101 tokens in a 1,000 limit) and the audit read
// -400. A now carries each old call into the new count as it ends (src/ledger/reload-carry.ts).
import { writeFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import type { AuditReport } from '../src/ledger/audit.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';

const ADMIN = 'reload-carry-admin';
// Long enough for both reloads (a config parsed in a worker, a rebuild) to apply while the old calls run.
const OLD_CALL_MS = 6_000;
const NEW_CALL_MS = 9_000;

const config = (mockUrl: string, redis: string, ledger: string, algorithm: string): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {counters: "${redis}", ledger: "${ledger}"}
ledger: {flush_interval_ms: 20}
enforcement: {clamp_max_tokens: false}
providers: {up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-upstream}}
routes:
  r:
    chat_models: [{model_id: m, model: up/gpt-4o}]
    token_limiting:
      output: {algorithm: ${algorithm}, window_size: 1 hour, max_token: 1000}
keys: [{id: k, key: tg-carry-k}]
`;

const processes: RunningProcess[] = [];
let redis: RedisServer | undefined;
let place: LedgerPlace | undefined;
afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await redis?.stop();
  await place?.drop();
});

/** A chat call whose answer the mock upstream gives after `latencyMs`, with `output` tokens. */
async function call(gw: RunningProcess, maxTokens: number, output: number, latencyMs: number): Promise<{ status: number; output: number }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-carry-k' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: maxTokens, mock_output_tokens: output, mock_latency_ms: latencyMs }),
  });
  const body = (await res.json()) as { usage?: { completion_tokens: number } };
  return { status: res.status, output: body.usage?.completion_tokens ?? 0 };
}

async function until(check: () => boolean, what: string, gw: RunningProcess): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!check()) throw new Error(`${what}:\n${gw.output()}`);
}

it("keeps one gateway's old calls in the new count though another gateway's call was in flight at its rebuild", { timeout: 40_000 }, async () => {
  redis = await startRedisServer();
  place = await postgresPlace();
  const mock = await startCli(['mock-upstream', '--host', '127.0.0.1', '--port', '0']);
  processes.push(mock);
  const file = writeConfig(config(mock.url, redis.url, place.url, 'fixed_window'));
  const [a, b] = await Promise.all([0, 1].map(() => startCli(['serve', '--config', file, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' })));
  processes.push(a, b);

  // Four calls on A under the fixed window, 100 output tokens each, still generating through the reload.
  const startedAt = Date.now();
  const old = Promise.all([1, 2, 3, 4].map(() => call(a, 100, 100, OLD_CALL_MS)));
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(file, config(mock.url, redis.url, place.url, 'sliding_window'));
  for (const gw of [a, b]) {
    gw.child.kill('SIGHUP');
    await until(() => gw.output().includes('configuration reloaded'), 'no reload', gw);
  }
  // B admits a call under the new config asking 600; it ends after A's old calls, with 1 token.
  const fresh = call(b, 600, 1, NEW_CALL_MS);
  await new Promise((r) => setTimeout(r, 500));
  expect(Date.now() - startedAt, 'the reloads took so long that the old calls may have ended first').toBeLessThan(OLD_CALL_MS - 1_000);
  expect(await old).toEqual([1, 2, 3, 4].map(() => ({ status: 200, output: 100 })));
  expect(await fresh).toEqual({ status: 200, output: 1 });

  // 401 of the 1,000 are spent: 700 more do not fit (they did, with the count at 1).
  expect((await call(a, 700, 1, 0)).status).toBe(429);
  expect((await call(b, 599, 1, 0)).status).toBe(200);
  // Counter and ledger agree: nothing counted twice, nothing missing.
  const report = (await (await fetch(`${a.url}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as AuditReport;
  const output = report.lines.filter((l) => l.limit === 'route:r:output');
  expect(output.map((l) => [l.counter, l.ledger, l.drift])).toEqual([[402, 402, 0]]);
});
