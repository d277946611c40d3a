// A reload rolled across two gateways that share Redis and a PostgreSQL ledger, one after the other (each
// reads its own copy of the config, as on two hosts). Gateway A moves the output limit from a fixed window
// to a sliding one first; B, still on the fixed window, serves 400 output tokens, charged to the fixed
// count only. A then admits a call asking 600 under the sliding window, and B reloads while it is in flight.
// B's rebuild compares the sliding counter (A's 600 reserved) with the ledger (400) and its own calls in
// flight (none), so it raises nothing: A's reservation hides B's 400, and once A's call settles at 1 token
// the limit has that room again. B's calls ended before its reload, so no carry (reload-carry.ts) counts
// them either. Seen: a call asking 700 admitted (1,101 output tokens in a 1,000 limit), audit drift -400.
// KNOWN GAP, pinned with it.fails (README "Reloading"): a fix wants what every gateway's reservations hold
// kept in each counter apart from its settled usage, so that a rebuild raises the settled part alone.
import { writeFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import type { AuditReport } from '../src/ledger/audit.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';

const ADMIN = 'review-staggered-admin';
const HELD_CALL_MS = 5_000;

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
keys: [{id: k, key: tg-staggered-k}]
`;

const processes: RunningProcess[] = [];
let redis: RedisServer | undefined;
let place: LedgerPlace | undefined;
afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await redis?.stop();
  await place?.drop();
});

async function call(gw: RunningProcess, maxTokens: number, output: number, latencyMs: number): Promise<{ status: number; output: number }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-staggered-k' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: maxTokens, mock_output_tokens: output, mock_latency_ms: latencyMs }),
  });
  const body = (await res.json()) as { usage?: { completion_tokens: number } };
  return { status: res.status, output: body.usage?.completion_tokens ?? 0 };
}

async function reload(gw: RunningProcess, file: string, text: string): Promise<void> {
  const before = gw.output().split('configuration reloaded').length;
  writeFileSync(file, text);
  gw.child.kill('SIGHUP');
  for (let i = 0; i < 200 && gw.output().split('configuration reloaded').length === before; i++) await new Promise((r) => setTimeout(r, 25));
  if (gw.output().split('configuration reloaded').length === before) throw new Error(`no reload:\n${gw.output()}`);
}

it.fails('counts what a gateway served under the old config before its own reload, though another gateway already holds a reservation in the new count', { timeout: 40_000 }, async () => {
  redis = await startRedisServer();
  place = await postgresPlace();
  const mock = await startCli(['mock-upstream', '--host', '127.0.0.1', '--port', '0']);
  processes.push(mock);
  const text = (algorithm: string): string => config(mock.url, redis!.url, place!.url, algorithm);
  const [fileA, fileB] = [writeConfig(text('fixed_window')), writeConfig(text('fixed_window'))];
  const a = await startCli(['serve', '--config', fileA, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
  processes.push(a);
  const b = await startCli(['serve', '--config', fileB, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
  processes.push(b);

  await reload(a, fileA, text('sliding_window'));
  // B, not yet reloaded, serves 400 output tokens under the fixed window.
  expect(await Promise.all([1, 2, 3, 4].map(() => call(b, 100, 100, 0)))).toEqual([1, 2, 3, 4].map(() => ({ status: 200, output: 100 })));
  // A admits a call asking 600 under the sliding window; B reloads while it runs.
  const startedAt = Date.now();
  const held = call(a, 600, 1, HELD_CALL_MS);
  await new Promise((r) => setTimeout(r, 300));
  await reload(b, fileB, text('sliding_window'));
  expect(Date.now() - startedAt, "B's reload took so long that A's call may have ended first").toBeLessThan(HELD_CALL_MS - 1_000);
  expect(await held).toEqual({ status: 200, output: 1 });

  // 401 of the 1,000 are spent: 700 more do not fit.
  const report = (await (await fetch(`${a.url}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as AuditReport;
  expect(report.lines.filter((l) => l.limit === 'route:r:output').map((l) => [l.counter, l.ledger, l.drift])).toEqual([[401, 401, 0]]);
  expect((await call(a, 700, 1, 0)).status).toBe(429);
});
