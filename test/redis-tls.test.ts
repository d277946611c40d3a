// `rediss://` counters against a real redis-server serving TLS with a private CA: two gateway processes
// share one budget over TLS, as does a Redis Cluster whose nodes serve TLS (`rediss-cluster://`), and the
// TLS mistakes an operator makes (a CA Node does not trust, redis:// to a TLS port) are refused in
// bounded time and logged with what to do about them.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { freeRedisPort, startRedisServer, type RedisServer } from './helpers/redis-servers.js';
import { makeTestCertificates, type TestCertificates } from './helpers/test-certificates.js';
import { until } from './helpers/until.js';

let certs: TestCertificates;
let redis: RedisServer;
let tlsPort: number;
/** A 3-master Redis Cluster whose nodes serve TLS (and TLS between themselves); its TLS ports. */
const clusterNodes: RedisServer[] = [];
const clusterTlsPorts: number[] = [];
const running: RunningProcess[] = [];
/** The tests' gateways: two that share the TLS server, one on the TLS cluster, one not trusting the CA, one writing redis://. */
let gateways: { a: RunningProcess; b: RunningProcess; clustered: RunningProcess; untrusted: RunningProcess; plain: RunningProcess };

beforeAll(async () => {
  certs = makeTestCertificates();
  tlsPort = await freeRedisPort();
  const file = (name: string): string => path.join(certs.dir, name);
  const tlsArgs = (port: number): string[] => ['--tls-port', String(port), '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no'];
  redis = await startRedisServer({ extraArgs: tlsArgs(tlsPort) });
  for (let i = 0; i < 3; i++) {
    const port = await freeRedisPort();
    clusterTlsPorts.push(port);
    const clusterArgs = ['--cluster-enabled', 'yes', '--cluster-config-file', file(`nodes-${port}.conf`), '--tls-cluster', 'yes', '--tls-replication', 'yes'];
    clusterNodes.push(await startRedisServer({ extraArgs: [...tlsArgs(port), ...clusterArgs] }));
  }
  const tlsCli = ['--tls', '--cacert', certs.ca];
  await promisify(execFile)('redis-cli', [...tlsCli, '--cluster', 'create', ...clusterTlsPorts.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
  await until(async () => {
    const { stdout } = await promisify(execFile)('redis-cli', [...tlsCli, '-p', String(clusterTlsPorts[2]), 'cluster', 'info']);
    return stdout.includes('cluster_state:ok');
  }, 10_000);
  // All at once: each start takes seconds, a gateway whose store refuses it mostly waiting on that store.
  const started = await Promise.allSettled([
    gateway(`rediss://127.0.0.1:${tlsPort}`, true),
    gateway(`rediss://localhost:${tlsPort}`, true),
    gateway(`rediss-cluster://${clusterTlsPorts.map((p) => `127.0.0.1:${p}`).join(',')}`, true),
    gateway(`rediss://127.0.0.1:${tlsPort}`, false),
    gateway(`redis://127.0.0.1:${tlsPort}`, true),
  ]);
  const [a, b, clustered, untrusted, plain] = started.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  });
  gateways = { a, b, clustered, untrusted, plain };
}, 60_000);

afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL');
  await redis?.stop();
  await Promise.all(clusterNodes.map((n) => n.stop()));
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

/** A gateway process with its counters at `counters`; `trustCa` gives Node the test CA. */
async function gateway(counters: string, trustCa: boolean): Promise<RunningProcess> {
  const config = writeConfig(`
storage: {counters: "${counters}", on_store_error: fail_closed, timeout_ms: 250}
ledger: {enabled: false}
providers:
  mock: {type: mock}
projects: {p: {daily_limit: 1000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: mock/gpt-4o}]
keys: [{id: a, key: tg-tls, project: p}]
`);
  const env = trustCa ? { NODE_EXTRA_CA_CERTS: certs.ca } : {};
  // Five start at once (below): 10-14 s each at load 11.
  const p = await startCli(['serve', '--config', config, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info', ...env }, 45_000);
  running.push(p);
  return p;
}

const call = (g: RunningProcess): Promise<Response> =>
  fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-tls' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 100, mock_output_tokens: 100 }),
  });

describe('counters in Redis over TLS (rediss://)', () => {
  it('two gateways that trust the CA share one budget: admitted at most the limit between them', async () => {
    const { a, b } = gateways;
    expect(a.output()).toContain('counters shared in Redis');
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => call(i % 2 === 0 ? a : b)));
    const statuses = answers.map((r) => r.status);
    const ok = answers.filter((r) => r.status === 200);
    // Each call uses all the output it is allowed (the last one admitted may be clamped to the room left).
    const used = (await Promise.all(ok.map((r) => r.json()))).reduce((sum, body) => sum + body.usage.total_tokens, 0);
    expect(ok.length).toBeGreaterThan(5);
    expect(used).toBeGreaterThan(900);
    expect(used).toBeLessThanOrEqual(1000);
    expect(statuses.filter((s) => s === 429).length).toBe(24 - ok.length);
    // The budget is spent for both, wherever it was spent.
    expect((await call(a)).status).toBe(429);
    expect((await call(b)).status).toBe(429);
  }, 30_000);

  it('a Redis Cluster over TLS (rediss-cluster://) keeps the budget too', async () => {
    const g = gateways.clustered;
    expect(g.output()).toContain('counters shared in Redis');
    const answers = await Promise.all(Array.from({ length: 16 }, () => call(g)));
    const ok = answers.filter((r) => r.status === 200);
    const used = (await Promise.all(ok.map((r) => r.json()))).reduce((sum, body) => sum + body.usage.total_tokens, 0);
    expect(used).toBeGreaterThan(900);
    expect(used).toBeLessThanOrEqual(1000);
    expect(answers.filter((r) => r.status === 429).length).toBe(16 - ok.length);
  }, 30_000);

  it('a CA Node does not trust: refused with 503 at once, and the log says how to trust it', async () => {
    const g = gateways.untrusted;
    const started = performance.now();
    const res = await call(g);
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('store_unavailable');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(g.output()).toMatch(/self[- ]signed certificate.*NODE_EXTRA_CA_CERTS/);
  }, 30_000);

  it('redis:// to a port that serves TLS: refused, and the log says to write rediss://', async () => {
    const g = gateways.plain;
    expect((await call(g)).status).toBe(503);
    expect(g.output()).toContain('write rediss:// instead of redis://');
  }, 30_000);
});
