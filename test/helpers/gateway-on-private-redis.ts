// One gateway process (and its mock upstream) on a private redis-server that a test starts, kills, restarts
// or flushes, with a SQLite ledger in a fresh directory that the test reads once the gateway has stopped.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { startFleet, type Fleet } from './redis-fleet.js';
import { startRedisServer, type RedisServer } from './redis-servers.js';

export interface GatewayOnPrivateRedis {
  readonly redis: RedisServer;
  /** The gateway's base URL. */
  readonly url: string;
  /** Its ledger: `storage.ledger: "sqlite:${ledgerFile}"` in the config. */
  readonly ledgerFile: string;
  /** Stops the gateway and its mock upstream (its last rows are written then): read the ledger after. */
  stopGateway(): Promise<void>;
}

/** What the config is written from: the server's URL, the ledger file and the mock upstream's URL. */
export interface GatewayPlaces {
  redisUrl: string;
  ledgerFile: string;
  mockUrl: string;
}

/**
 * Registers the afterAll that stops the gateway and the server (still running if an assertion failed);
 * call at the top of a test file. The function returned starts them, once per file: `name` names the
 * ledger's directory, `config` is the gateway's config.
 */
export function useGatewayOnPrivateRedis(): (name: string, config: (places: GatewayPlaces) => string) => Promise<GatewayOnPrivateRedis> {
  let redis: RedisServer | undefined;
  let fleet: Fleet | undefined;
  afterAll(async () => {
    await fleet?.stop();
    await redis?.stop();
  });
  return async (name, config) => {
    const server = await startRedisServer();
    redis = server;
    const dir = mkdtempSync(path.join(tmpdir(), `tollgate-${name}-`));
    const ledgerFile = path.join(dir, 'ledger.db');
    const started = await startFleet(1, (mockUrl) => config({ redisUrl: server.url, ledgerFile, mockUrl }));
    fleet = started;
    return {
      redis: server,
      url: started.urls[0],
      ledgerFile,
      stopGateway: async () => {
        await started.stop();
        fleet = undefined;
      },
    };
  };
}

/** A chat call with key `key`, the mock upstream answering `output` tokens after `latencyMs`; its status once the body is read. */
export async function mockChat(url: string, key: string, latencyMs: number, output: number): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'count to three' }], max_tokens: 40, mock_output_tokens: output, mock_latency_ms: latencyMs }),
  });
  await res.arrayBuffer();
  return res.status;
}
