// Gateway instances in this test process, each with the counter store its config names (Redis shared by
// several, for tests of what one instance records and another reads), listening on a port of their own.
import type { FastifyInstance } from 'fastify';
import { loadPolicy } from '../../src/config/index.js';
import type { CounterStore } from '../../src/limits/counter-store.js';
import { openCounterStore } from '../../src/limits/open-counter-store.js';
import { Gateway, type CallRecord } from '../../src/proxy/gateway.js';
import { buildServer } from '../../src/proxy/server.js';
import { systemClock } from '../../src/util/clock.js';
import { closeApp, listenLocal } from './in-process.js';
import { writeConfig } from './processes.js';

const silent = { info: () => {}, warn: () => {} };

export interface StoreInstance {
  url: string;
  app: FastifyInstance;
  gateway: Gateway;
  store: CounterStore;
  /** Every call the instance recorded, in order. */
  calls: CallRecord[];
}

/** Starts an instance of `yaml` (written to a file of its own) on the system clock. */
export async function startStoreInstance(yaml: string): Promise<StoreInstance> {
  const policy = loadPolicy([writeConfig(yaml)], process.env);
  const store = await openCounterStore(policy, silent, systemClock);
  const gateway = new Gateway(policy, store, systemClock);
  const app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes });
  const calls: CallRecord[] = [];
  gateway.onCall((r) => calls.push(r));
  return { url: await listenLocal(app), app, gateway, store, calls };
}

/** Stops an instance: its server, then its gateway (calls in flight), then its store. */
export async function stopStoreInstance(i: StoreInstance): Promise<void> {
  await closeApp(i.app);
  await i.gateway.close();
  await i.store.close();
}
