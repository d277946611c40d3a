// A gateway running inside the test process, with an injected clock, for deterministic limit tests.
import type { FastifyInstance } from 'fastify';
import { loadPolicy } from '../../src/config/index.js';
import { MemoryCounterStore } from '../../src/limits/memory-store.js';
import { Gateway, type CallRecord } from '../../src/proxy/gateway.js';
import { buildServer } from '../../src/proxy/server.js';
import { ManualClock } from '../../src/util/clock.js';
import { createMockUpstream, type MockUpstream, type MockUpstreamOptions } from '../../src/mock-upstream/index.js';
import { writeConfig } from './processes.js';

export interface TestGateway {
  url: string;
  clock: ManualClock;
  store: MemoryCounterStore;
  gateway: Gateway;
  calls: CallRecord[];
  app: FastifyInstance;
  close: () => Promise<void>;
}

/** Starts a gateway on an ephemeral port from YAML text, with a manual clock at `startMs`. */
export async function startTestGateway(yaml: string, startMs = Date.UTC(2026, 10, 21, 12), env: NodeJS.ProcessEnv = {}): Promise<TestGateway> {
  const policy = loadPolicy([writeConfig(yaml)], { ...process.env, ...env });
  const clock = new ManualClock(startMs);
  const store = new MemoryCounterStore(clock, policy.server.timezone);
  const gateway = new Gateway(policy, store, clock);
  const calls: CallRecord[] = [];
  gateway.onCall((r) => calls.push(r));
  const app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes });
  const url = await listenLocal(app);
  return {
    url,
    clock,
    store,
    gateway,
    calls,
    app,
    close: async () => {
      await closeApp(app);
      await gateway.background.finishAll();
      await gateway.close();
    },
  };
}

/** Listens on an ephemeral loopback port; returns the base URL. */
export async function listenLocal(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return `http://127.0.0.1:${port}`;
}

/** Closes the server at once: keep-alive connections from test clients would otherwise hold close() open. */
export async function closeApp(app: FastifyInstance): Promise<void> {
  const closing = app.close();
  app.server.closeAllConnections();
  await closing;
}

/** A test gateway in front of its own mock upstream: `yaml` gets the mock's URL. */
export async function startBehindMock(mock: MockUpstreamOptions, yaml: (upstreamUrl: string) => string, startMs?: number): Promise<{ upstream: MockUpstream; gw: TestGateway }> {
  const upstream = createMockUpstream(mock);
  const url = await upstream.listen(0, '127.0.0.1');
  return { upstream, gw: await startTestGateway(yaml(url), startMs) };
}

/** Stops what startBehindMock started (either may be missing when the start failed). */
export async function stopBehindMock(gw: TestGateway | undefined, upstream: MockUpstream | undefined): Promise<void> {
  await gw?.close();
  await upstream?.close();
}

/**
 * The OpenAI wire tests' gateway: key `tg-k` may call `gpt-4o` (sent upstream as `upstreamModel`), served by
 * its own mock upstream answering `outputTokens` tokens.
 */
export function startGpt4oBehindMock(outputTokens: number, upstreamModel = 'gpt-4o'): Promise<{ upstream: MockUpstream; gw: TestGateway }> {
  return startBehindMock({ latencyMs: 0, outputTokens, apiKey: 'sk-up' }, (url) => `
providers: {openai: {type: openai, base_url: "${url}/v1", api_key: sk-up}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: openai/${upstreamModel}}]}}
keys: [{id: k, key: tg-k, project: p}]
`);
}
