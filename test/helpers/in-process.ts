// A gateway running inside the test process, with an injected clock, for deterministic limit tests.
import type { FastifyInstance } from 'fastify';
import { loadPolicy } from '../../src/config/index.js';
import { MemoryCounterStore } from '../../src/limits/memory-store.js';
import { Gateway, type CallRecord } from '../../src/proxy/gateway.js';
import { buildServer } from '../../src/proxy/server.js';
import { ManualClock } from '../../src/util/clock.js';
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
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    clock,
    store,
    gateway,
    calls,
    app,
    close: async () => {
      // Keep-alive connections from test clients would otherwise hold close() open.
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
      await gateway.close();
    },
  };
}
