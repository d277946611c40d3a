// A gateway (the built CLI) with its counters on a private redis-server and a PostgreSQL ledger whose table
// a test can lock (lockLedgerTable), so that a rebuild of the counters Redis lost waits on it; mock
// upstreams of the latencies asked for. Call at the top of a test file: it registers the start and the stop.
import postgres from 'postgres';
import { afterAll, beforeAll } from 'vitest';
import { createMockUpstream } from '../../src/mock-upstream/index.js';
import { postgresPlace, type LedgerPlace } from './ledgers.js';
import { servedAtMidday } from './midday-zone.js';
import { startCli, writeConfig, type RunningProcess } from './processes.js';
import { usePrivateRedis, type RedisServer } from './redis-servers.js';

export interface LockableLedgerGateway {
  readonly redis: RedisServer;
  readonly gateway: RunningProcess;
  readonly place: LedgerPlace;
  /** One connection of its own, for lockLedgerTable. */
  readonly locker: postgres.Sql;
}

/** Where the config points: the Redis and ledger URLs, and each upstream's URL by the name asked for. */
export interface GatewayPlaces {
  redisUrl: string;
  ledgerUrl: string;
  upstreams: Record<string, string>;
}

/**
 * `upstreams`: a mock upstream per name, answering 20 output tokens after its latency (ms). `config`: the
 * gateway's config, served at midday in its timezone (servedAtMidday).
 */
export function useLockableLedgerGateway(name: string, upstreams: Record<string, number>, config: (at: GatewayPlaces) => string): LockableLedgerGateway {
  const redis = usePrivateRedis();
  const mocks: Array<ReturnType<typeof createMockUpstream>> = [];
  let gateway: RunningProcess | undefined;
  let place: LedgerPlace | undefined;
  let locker: postgres.Sql | undefined;
  beforeAll(async () => {
    const urls: Record<string, string> = {};
    for (const [upstream, latencyMs] of Object.entries(upstreams)) {
      const mock = createMockUpstream({ latencyMs, outputTokens: 20 });
      mocks.push(mock);
      urls[upstream] = await mock.listen(0, '127.0.0.1');
    }
    place = await postgresPlace();
    const file = writeConfig(servedAtMidday(config({ redisUrl: redis.url, ledgerUrl: place.url, upstreams: urls })), `${name}.yaml`);
    gateway = await startCli(['serve', '--port', '0', '--config', file], { TOLLGATE_LOG_LEVEL: 'info' });
    locker = postgres(place.url, { max: 1, onnotice: () => {} });
  }, 30_000);
  afterAll(async () => {
    await locker?.end({ timeout: 1 });
    await gateway?.stop();
    await place?.drop();
    for (const mock of mocks) await mock.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useLockableLedgerGateway: not started yet (read it in a hook or a test)');
    return value;
  };
  return {
    redis,
    get gateway() {
      return started(gateway);
    },
    get place() {
      return started(place);
    },
    get locker() {
      return started(locker);
    },
  };
}

export interface ChatAnswer {
  status: number;
  /** Input plus output tokens the answer reports (0 for a refusal). */
  tokens: number;
  /** `x-ratelimit-remaining-tokens`. */
  remaining: number;
  /** Until the whole body was read. */
  ms: number;
}

/** One chat completion with key `tg-k`, its body read whole. */
export async function chatCall(url: string, model = 'gpt-4o', timeoutMs = 10_000): Promise<ChatAnswer> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as { usage?: { prompt_tokens: number; completion_tokens: number } };
  const tokens = body.usage ? body.usage.prompt_tokens + body.usage.completion_tokens : 0;
  return { status: res.status, tokens, remaining: Number(res.headers.get('x-ratelimit-remaining-tokens')), ms: performance.now() - t0 };
}

/** The gateway's log says the latest rebuild of lost counters is done. */
export function rebuiltSinceLoss(gateway: RunningProcess): boolean {
  return /counters rebuilt from the ledger/.test(gateway.output().split('rebuilding them from the ledger').at(-1)!);
}

/** The ledger's rows and their tokens, read on a connection of its own. */
export async function ledgerTotals(url: string): Promise<{ rows: number; tokens: number }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<Array<{ n: string; t: string }>>`SELECT count(*) AS n, coalesce(sum(input_tokens + output_tokens), 0) AS t FROM tollgate_ledger`;
    return { rows: Number(row.n), tokens: Number(row.t) };
  } finally {
    await sql.end({ timeout: 1 });
  }
}
