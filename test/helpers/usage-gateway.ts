// A gateway in the test process with the usage services wired as `tollgate serve` wires them (ledger
// writer, metrics, admin API), on a manual clock.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import pino, { type Logger } from 'pino';
import { loadPolicy } from '../../src/config/index.js';
import { withStartSettings } from '../../src/config/restart-settings.js';
import { MemoryCounterStore } from '../../src/limits/memory-store.js';
import { Gateway } from '../../src/proxy/gateway.js';
import { buildServer } from '../../src/proxy/server.js';
import { startUsageServices, type UsageServices } from '../../src/server/usage-services.js';
import { ManualClock } from '../../src/util/clock.js';
import type { LedgerWriter } from '../../src/ledger/batch-writer.js';
import type { Ledger, LedgerRow } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { sqlitePlace, type LedgerPlace } from './ledgers.js';
import { closeApp, listenLocal } from './in-process.js';
import { writeConfig } from './processes.js';

export interface UsageTestGateway {
  url: string;
  clock: ManualClock;
  store: MemoryCounterStore;
  gateway: Gateway;
  /** With the ledger on (the tests' configs never turn it off). */
  usage: UsageServices & { ledger: Ledger; writer: LedgerWriter };
  app: FastifyInstance;
  /** Swaps in a new Gateway built from the same config (or from `yaml`), as a config reload does. */
  reload: (yaml?: string) => Gateway;
  /** Stops the server and flushes the ledger (as SIGTERM does). */
  close: () => Promise<void>;
}

/**
 * In the calling describe block: a new ledger (`place`, SQLite by default), seeded with `seed` when
 * given, and a gateway on it from `config(ledgerUrl)`, started before its tests and stopped after them.
 * Returns the gateway, once started.
 */
export function useUsageGateway(
  config: (ledgerUrl: string) => string,
  opts: { place?: () => LedgerPlace | Promise<LedgerPlace>; seed?: () => LedgerRow[]; startMs?: number } = {},
): () => UsageTestGateway {
  let place: LedgerPlace | undefined;
  let gw: UsageTestGateway | undefined;
  beforeAll(async () => {
    place = await (opts.place ?? sqlitePlace)();
    if (opts.seed) {
      const ledger = await openLedger(place.url);
      await ledger.append(opts.seed());
      await ledger.close();
    }
    gw = await startUsageGateway(config(place.url), opts.startMs);
  });
  afterAll(async () => {
    await gw?.close().catch(() => {});
    await place?.drop();
  });
  return () => gw!;
}

/**
 * Runs `body` against a gateway of its own on a new SQLite ledger (`config` gets the ledger's URL), then
 * stops the gateway and removes the ledger, whatever `body` did.
 */
export async function withUsageGateway(config: (ledgerUrl: string) => string, body: (gw: UsageTestGateway) => Promise<void>): Promise<void> {
  const place = sqlitePlace();
  try {
    const gw = await startUsageGateway(config(place.url));
    try {
      await body(gw);
    } finally {
      await gw.close();
    }
  } finally {
    await place.drop();
  }
}

/** Starts a gateway from YAML text (which should set `storage.ledger`), the clock at `startMs`; requests log to `logger` when given. */
export async function startUsageGateway(yaml: string, startMs = Date.UTC(2026, 10, 21, 12), logger?: Logger): Promise<UsageTestGateway> {
  const file = writeConfig(yaml);
  const policy = loadPolicy([file], process.env);
  const clock = new ManualClock(startMs);
  const store = new MemoryCounterStore(clock, policy.server.timezone);
  let gateway = new Gateway(policy, store, clock);
  const usage = await startUsageServices({ policy, store, clock, log: pino({ level: 'silent' }), currentPolicy: () => gateway.policy });
  if (!usage.ledger || !usage.writer) throw new Error('these tests need the ledger on');
  usage.attach(gateway);
  const app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes, routes: usage.routes, onRejected: usage.onRejected, ...(logger ? { logger } : {}) });
  const reload = (yaml?: string): Gateway => {
    // As serve's reload: the settings read only at start keep their start-up values.
    const next = withStartSettings(gateway.policy, loadPolicy([yaml === undefined ? file : writeConfig(yaml)], process.env));
    gateway = new Gateway(next, store, clock, undefined, gateway.storedContext, gateway.background);
    usage.attach(gateway);
    return gateway;
  };
  await usage.rebuild();
  const url = await listenLocal(app);
  return {
    url,
    clock,
    store,
    get gateway() {
      return gateway;
    },
    reload,
    usage: usage as UsageTestGateway['usage'],
    app,
    close: async () => {
      await closeApp(app);
      await gateway.background.finishAll();
      await usage.close();
      await gateway.close();
    },
  };
}

/** POSTs a chat completion with a Tollgate key; returns status, headers and parsed body (or SSE text). */
export async function chat(url: string, key: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello there' }], ...body }),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}
