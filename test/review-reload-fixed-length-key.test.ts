// Fixed windows of different lengths share one Redis key (`...:route:r:output:fixed_window`, a hash of the
// window start and its usage), and a reservation or rebuild in a window that starts elsewhere starts the
// hash afresh. While a reload that changes the length rolls across gateways (each with its own copy of
// the config), the one reloaded first rebuilds the counter into its window (60 minutes -> 61 minutes: the
// windows start apart), and the one not yet reloaded then finds no usage in its own, unchanged window: it
// forgets what it served itself. Seen: gateway B, whose config never changed, admitted 600 + 600 output
// tokens in one hour against a 1,000 limit, once A had reloaded (the second 600 was refused before).
import { writeFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';

const HOUR_MS = 3_600_000;

const config = (mockUrl: string, redis: string, ledger: string, windowSize: string): string => `
server: {timezone: UTC}
storage: {counters: "${redis}", ledger: "${ledger}"}
ledger: {flush_interval_ms: 20}
enforcement: {clamp_max_tokens: false}
providers: {up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-upstream}}
routes:
  r:
    chat_models: [{model_id: m, model: up/gpt-4o}]
    token_limiting:
      output: {algorithm: fixed_window, window_size: ${windowSize}, max_token: 1000}
keys: [{id: k, key: tg-length-k}]
`;

const processes: RunningProcess[] = [];
let redis: RedisServer | undefined;
let place: LedgerPlace | undefined;
afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await redis?.stop();
  await place?.drop();
});

async function call(gw: RunningProcess, tokens: number): Promise<number> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-length-k' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: tokens, mock_output_tokens: tokens }),
  });
  await res.arrayBuffer();
  return res.status;
}

it("keeps a gateway's own fixed-window count when another gateway reloads the window to another length", { timeout: 40_000 }, async () => {
  // All of it within one hour window (and one 61-minute window): a call near the hour's edge would be
  // admitted in the next window, rightly.
  const toEdge = HOUR_MS - (Date.now() % HOUR_MS);
  if (toEdge < 30_000) await new Promise((r) => setTimeout(r, toEdge + 100));
  redis = await startRedisServer();
  place = await postgresPlace();
  const mock = await startCli(['mock-upstream', '--host', '127.0.0.1', '--port', '0']);
  processes.push(mock);
  const text = (windowSize: string): string => config(mock.url, redis!.url, place!.url, windowSize);
  const [fileA, fileB] = [writeConfig(text('60 minutes')), writeConfig(text('60 minutes'))];
  const a = await startCli(['serve', '--config', fileA, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
  processes.push(a);
  const b = await startCli(['serve', '--config', fileB, '--port', '0']);
  processes.push(b);
  const hour = Math.floor(Date.now() / HOUR_MS);

  expect(await call(b, 600)).toBe(200);
  expect(await call(b, 600)).toBe(429);
  // A alone reloads to a 61-minute window (its rebuild writes the shared key); B's config is unchanged.
  writeFileSync(fileA, text('61 minutes'));
  a.child.kill('SIGHUP');
  for (let i = 0; i < 200 && !a.output().includes('configuration reloaded'); i++) await new Promise((r) => setTimeout(r, 25));
  expect(a.output()).toContain('configuration reloaded');

  // Still 600 of B's 1,000 spent in B's hour: 600 more do not fit.
  expect(await call(b, 600)).toBe(429);
  expect(Math.floor(Date.now() / HOUR_MS), 'the hour rolled over during the test').toBe(hour);
});
