// Gateway processes sharing a private Redis and a PostgreSQL ledger in front of the mock upstream, each
// with its own copy of the config (as on separate hosts), for tests of reloads with calls in flight.
import { writeFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import type { AuditLine, AuditReport } from '../../src/ledger/audit.js';
import { postgresPlace, type LedgerPlace } from './ledgers.js';
import { startCli, writeConfig, type RunningProcess } from './processes.js';
import { startRedisServer, type RedisServer } from './redis-servers.js';

export const FLEET_ADMIN = 'reload-fleet-admin';
export const FLEET_KEY = 'tg-reload-fleet-k';

/** A config whose route `r` (model `m`) has `output` as its output limit, on the fleet's Redis and ledger. */
export type FleetConfig = (output: string) => string;

export interface ReloadFleet {
  config: FleetConfig;
  /** Starts a gateway on its own copy of `text` (logging at info, so that its reloads show). */
  gateway(text: string): Promise<{ gw: RunningProcess; file: string }>;
}

/** In the calling file: starts the shared parts when first asked, stops everything after its tests. */
export function useReloadFleet(): () => Promise<ReloadFleet> {
  const processes: RunningProcess[] = [];
  let redis: RedisServer | undefined;
  let place: LedgerPlace | undefined;
  let fleet: ReloadFleet | undefined;
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await redis?.stop();
    await place?.drop();
  });
  return async () => {
    if (fleet) return fleet;
    redis = await startRedisServer();
    place = await postgresPlace();
    const mock = await startCli(['mock-upstream', '--host', '127.0.0.1', '--port', '0']);
    processes.push(mock);
    const config: FleetConfig = (output) => `
server: {timezone: UTC, admin_key: ${FLEET_ADMIN}}
storage: {counters: "${redis!.url}", ledger: "${place!.url}"}
ledger: {flush_interval_ms: 20}
enforcement: {clamp_max_tokens: false}
providers: {up: {type: openai, base_url: "${mock.url}/v1", api_key: sk-upstream}}
routes:
  r:
    chat_models: [{model_id: m, model: up/gpt-4o}]
    token_limiting:
      output: {${output}}
keys: [{id: k, key: ${FLEET_KEY}}]
`;
    fleet = {
      config,
      gateway: async (text) => {
        const file = writeConfig(text);
        const gw = await startCli(['serve', '--config', file, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
        processes.push(gw);
        return { gw, file };
      },
    };
    return fleet;
  };
}

/** A chat call the mock upstream answers after `latencyMs` with `output` tokens: its status and the output billed. */
export async function fleetCall(gw: RunningProcess, maxTokens: number, output: number, latencyMs = 0): Promise<{ status: number; output: number }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${FLEET_KEY}` },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: maxTokens, mock_output_tokens: output, mock_latency_ms: latencyMs }),
  });
  const body = (await res.json()) as { usage?: { completion_tokens: number } };
  return { status: res.status, output: body.usage?.completion_tokens ?? 0 };
}

/** Rewrites `file` with `text`, sends SIGHUP and waits until the gateway says it reloaded. */
export async function reloadWith(gw: RunningProcess, file: string, text: string): Promise<void> {
  const before = gw.output().split('configuration reloaded').length;
  writeFileSync(file, text);
  gw.child.kill('SIGHUP');
  for (let i = 0; i < 200 && gw.output().split('configuration reloaded').length === before; i++) await new Promise((r) => setTimeout(r, 25));
  if (gw.output().split('configuration reloaded').length === before) throw new Error(`no reload:\n${gw.output()}`);
}

/** The route's output limit as `tollgate audit` sees it on `gw`: [counter, ledger, drift] per line. */
export async function outputAudit(gw: RunningProcess): Promise<Array<[number, number, number]>> {
  const report = (await (await fetch(`${gw.url}/api/audit`, { headers: { authorization: `Bearer ${FLEET_ADMIN}` } })).json()) as AuditReport;
  return report.lines.filter((l: AuditLine) => l.limit === 'route:r:output').map((l) => [l.counter, l.ledger, l.drift]);
}
