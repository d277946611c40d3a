#!/usr/bin/env node
// Chaos soak: 3 gateway processes sharing a private Redis (counters) and a PostgreSQL ledger, in front of
// one mock upstream, driven for N seconds by the official `openai` and `@anthropic-ai/sdk` clients with
// mixed traffic (every endpoint, streamed and not, aborted streams, invalid requests, limits hit), while
// faults are injected: a config reload, a gateway SIGTERMed and restarted, Redis killed and restarted
// empty, the ledger's PostgreSQL connections terminated. Then it checks invariants that no unit test
// sees together and prints PASS/FAIL for each (exit 1 on any FAIL). Not a CI test: see docs/soak.md.
//
//   npx tsc -p tsconfig.build.json --outDir /tmp/soak-root/dist   # a private build (see docs/soak.md)
//   node scripts/soak.mjs --dist /tmp/soak-root/dist [--seconds 120] [--concurrency 12] [--seed N]
//
// Needs redis-server on PATH and PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth): it drops and
// creates the database `tollgate_soak`, and runs its own redis-server on --redis-port (6391).
// With --cluster: the database `tollgate_soak_cluster` and a Redis Cluster on --cluster-port (7391) and up.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const { values: args } = parseArgs({
  options: {
    dist: { type: 'string', default: 'dist' },
    seconds: { type: 'string', default: '120' },
    concurrency: { type: 'string', default: '12' },
    seed: { type: 'string' },
    'redis-port': { type: 'string', default: '6391' },
    work: { type: 'string', default: '/tmp/soak-run' },
    'lease-ms': { type: 'string', default: '0' },
    // A Redis Cluster of 3 primaries (each with --cluster-replicas replicas) on --cluster-port and up.
    cluster: { type: 'boolean', default: false },
    'cluster-port': { type: 'string', default: '7391' },
    'cluster-replicas': { type: 'string', default: '1' },
  },
});
const DIST = path.resolve(args.dist);
const CLI = path.join(DIST, 'cli/index.js');
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const SEED = Number(args.seed ?? Date.now() % 1_000_000);
const REDIS_PORT = Number(args['redis-port']);
const WORK = path.resolve(args.work);
const LEASE_MS = Number(args['lease-ms']);
const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const CLUSTER = args.cluster;
const CLUSTER_PORT = Number(args['cluster-port']);
const CLUSTER_REPLICAS = Number(args['cluster-replicas']);
const CLUSTER_PORTS = Array.from({ length: 3 * (1 + CLUSTER_REPLICAS) }, (_, i) => CLUSTER_PORT + i);
// A cluster run has its own database, so that it may run beside a single-Redis one.
const PG_DATABASE = CLUSTER ? 'tollgate_soak_cluster' : 'tollgate_soak';
const PG_URL = `postgres://postgres@127.0.0.1:5432/${PG_DATABASE}`;
const COUNTERS_URL = CLUSTER ? `redis-cluster://${CLUSTER_PORTS.map((p) => `127.0.0.1:${p}`).join(',')}` : `redis://127.0.0.1:${REDIS_PORT}/0`;
const ADMIN_KEY = 'soak-admin-key';
// A client call that takes longer than this has hung: the SDKs' own timeout is a little shorter, so a
// gateway that never answers shows as an SDK timeout error first, and this catches a client that hangs anyway.
const CALL_TIMEOUT_MS = 30_000;

// The dependencies are the checkout's (scripts/ sits next to node_modules/), whatever --dist is.
const require = createRequire(import.meta.url);
const { default: OpenAI } = await import(require.resolve('openai'));
const { default: Anthropic } = await import(require.resolve('@anthropic-ai/sdk'));
const { default: postgres } = await import(require.resolve('postgres'));
const { Redis } = await import(require.resolve('ioredis'));

// ---------------------------------------------------------------------------------------------------
// Randomness: seeded, so that a failing run's traffic mix can be replayed (timing cannot).

let prngState = SEED >>> 0 || 1;
function random() {
  // xorshift32
  prngState ^= prngState << 13;
  prngState ^= prngState >>> 17;
  prngState ^= prngState << 5;
  return (prngState >>> 0) / 4294967296;
}
const randomInt = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const pick = (list) => list[Math.floor(random() * list.length)];

// ---------------------------------------------------------------------------------------------------
// The configuration: hard limits at every level. Daily limits scale with the run's length, so that each
// binds during it whatever --seconds is: per second of run, from a first run's rates on a busy 2-core VM
// (~250 calls/s, ~1,600 tokens/s served in all once the lower limits bind, ~500/s per busy key, a free
// user's ~30/s under its rate limit), each set a little under what its owner spent in those runs, so that
// it binds in the last part of the run. Rolling limits bind from the first minute.

const S = SECONDS;
const LIMITS = {
  orgDaily: 1_550 * S,
  projectDaily: { web: 560 * S, batch: 1_000 * S },
  // the reload on gateway 0 raises project web's limit to this (only there: see reloadOneGateway)
  projectWebReloaded: 600 * S,
  tierDaily: { free: 30 * S, pro: 500 * S },
  tierRate: { free: 40, pro: 1_000 },
  groupDaily: { team: 600 * S },
  groupMoneyUsd: { spenders: 0.0045 * S },
  gptRouteInputPerKeyHour: 60 * S,
  gptRouteOutputPerKeyMinute: 9_000,
  // A short bucket: saturated for several of its windows before Redis is restarted, so the rebuild
  // has to know how full it was (the replay of one window's rows from empty cannot).
  claudeRouteOutputBucket: 4_000,
  claudeRouteOutputBucketWindowMs: 20_000,
};

const KEYS = [
  { id: 'alice', user: 'alice', tier: 'pro', project: 'web', groups: ['team'] },
  { id: 'bob', user: 'bob', tier: 'pro', project: 'web', groups: ['team', 'spenders'] },
  { id: 'carol', user: 'carol', tier: 'free', project: 'web', groups: [] },
  { id: 'dave', user: 'dave', tier: 'pro', project: 'batch', groups: ['spenders'] },
  { id: 'erin', user: 'erin', tier: 'free', project: 'batch', groups: ['team'] },
  { id: 'frank', user: 'frank', tier: 'pro', project: 'batch', groups: [] },
];
const secretOf = (key) => `tg-soak-${key.id}`;

const PRICING = {
  'oai/gpt-4o': { input: 2.5, output: 10 },
  'oai/text-embedding-3-small': { input: 0.02, output: 0 },
  'ant/claude-sonnet-4-20250514': { input: 3, output: 15 },
};

function configYaml(mockUrl, projectWebLimit = LIMITS.projectDaily.web) {
  return `# written by scripts/soak.mjs
server: {timezone: UTC, admin_key: ${ADMIN_KEY}, drain_timeout_ms: 10000}
storage:
  counters: "${COUNTERS_URL}"
  ledger: "${PG_URL}"
  instances: 3
  on_store_error: fail_closed
  timeout_ms: 1000
  lease_ms: ${LEASE_MS}
ledger: {flush_interval_ms: 100, shutdown_flush_ms: 10000}
providers:
  oai: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-soak-upstream}
  ant: {type: anthropic, base_url: "${mockUrl}", api_key: sk-soak-upstream}
pricing:
${Object.entries(PRICING).map(([m, p]) => `  "${m}": {input: ${p.input}, output: ${p.output}}`).join('\n')}
organization: {daily_cap: ${LIMITS.orgDaily}}
projects:
  web: {daily_limit: ${projectWebLimit}}
  batch: {daily_limit: ${LIMITS.projectDaily.batch}}
users:
  free: {daily_limit: ${LIMITS.tierDaily.free}, rate_limit: ${LIMITS.tierRate.free}}
  pro: {daily_limit: ${LIMITS.tierDaily.pro}, rate_limit: ${LIMITS.tierRate.pro}}
groups:
  team: {daily_limit: ${LIMITS.groupDaily.team}}
  spenders: {daily_limit: {max_cost_usd: ${LIMITS.groupMoneyUsd.spenders}}}
routes:
  gpt:
    chat_models: [{model_id: gpt-4o, model: oai/gpt-4o}]
    embedding_models: [{model_id: text-embedding-3-small, model: oai/text-embedding-3-small}]
    token_limiting:
      scope: user
      input: {algorithm: fixed_window, window_size: 1 hour, max_token: ${LIMITS.gptRouteInputPerKeyHour}}
      output: {algorithm: sliding_window, window_size: 1 minute, max_token: ${LIMITS.gptRouteOutputPerKeyMinute}}
  claude:
    chat_models: [{model_id: claude-sonnet-4, model: ant/claude-sonnet-4-20250514}]
    token_limiting:
      output: {algorithm: token_bucket, window_size: ${LIMITS.claudeRouteOutputBucketWindowMs / 1000} seconds, max_token: ${LIMITS.claudeRouteOutputBucket}}
keys:
${KEYS.map((k) => `  - {id: ${k.id}, key: ${secretOf(k)}, user: ${k.user}, tier: ${k.tier}, project: ${k.project}${k.groups.length ? `, groups: [${k.groups.join(', ')}]` : ''}}`).join('\n')}
`;
}

// ---------------------------------------------------------------------------------------------------
// Processes: every child's output goes to a log file under --work, and is kept for the crash check.

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Spawns `command args`, logging to WORK/<name>.log; resolves once `ready` matches its output. */
function startProcess(name, command, argv, ready, env = {}) {
  const log = createWriteStream(path.join(WORK, `${name}.log`), { flags: 'a' });
  const child = spawn(command, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const proc = { name, child, output: '', exit: null };
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      proc.exit = { code, signal };
      resolve(proc.exit);
    }),
  );
  proc.exited = exited;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s:\n${proc.output.slice(-2000)}`)), 30_000);
    const onData = (d) => {
      proc.output += d.toString();
      log.write(d);
      const m = ready.exec(proc.output);
      if (m && !proc.url) {
        proc.url = m[1];
        clearTimeout(timer);
        resolve(proc);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then((e) => {
      clearTimeout(timer);
      if (!proc.url) reject(new Error(`${name} exited (${JSON.stringify(e)}) before it was ready:\n${proc.output.slice(-2000)}`));
    });
  });
}

/** SIGTERM, and the exit it leads to (SIGKILL after `graceMs`, reported as such). */
async function stopProcess(proc, graceMs = 40_000) {
  if (proc.exit) return proc.exit;
  proc.stopping = true;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  return exit;
}

const startRedis = () =>
  startProcess('redis', 'redis-server', ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /(Ready to accept connections)/);

// ---- Redis Cluster (--cluster): nodes keep their nodes-<port>.conf under WORK, so a node restarted
// after a kill rejoins with its id (empty: no persistence), as a primary of its old slots when it has no
// replica, or as a replica of the one promoted in its place.

const clusterNodeArgs = (port) => {
  const dir = path.join(WORK, `cluster-${port}`);
  mkdirSync(dir, { recursive: true });
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000', '--repl-diskless-sync-delay', '0'];
};
const startClusterNode = (port) => startProcess(`redis-${port}`, 'redis-server', clusterNodeArgs(port), /(Ready to accept connections)/);

function redisCli(...argv) {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`redis-cli ${argv.join(' ')}: exit ${code}\n${out}`))));
  });
}

/** Every live node says cluster_state:ok and names the same primary for `slot` (not `formerOwner`); resolves with its port. */
async function waitClusterOk(slot, formerOwner = -1, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = CLUSTER_PORTS.filter((p) => fleet.redisNodes.get(p) && !fleet.redisNodes.get(p).exit);
    const views = await Promise.all(live.map((p) => clusterView(p, slot).catch((err) => ({ port: p, ok: false, owner: -1, error: String(err.message ?? err) }))));
    if (views.every((v) => v.ok && v.owner === views[0].owner && v.owner > 0 && v.owner !== formerOwner)) return views[0].owner;
    if (Date.now() > deadline) throw new Error(`the cluster is not ok: ${JSON.stringify(views)}`);
    await sleep(100);
  }
}

/** What node `port` says: whether the cluster is ok, and which primary holds `slot`. */
async function clusterView(port, slot) {
  const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true, connectTimeout: 2000, commandTimeout: 5000 });
  r.on('error', () => {});
  try {
    await r.connect();
    const info = String(await r.call('CLUSTER', 'INFO'));
    const ranges = await r.call('CLUSTER', 'SLOTS');
    const owner = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)?.[2][1] ?? -1;
    return { port, ok: info.includes('cluster_state:ok'), owner, state: /cluster_state:(\w+)/.exec(info)?.[1] };
  } finally {
    r.disconnect();
  }
}

// The soak's one organization's hash tag (hash-tags.ts: `tg:{org}`); its counters all live in this slot.
const ORG_TAG = 'tg:{default}';

async function startCluster() {
  fleet.redisNodes = new Map();
  // A new cluster: no node may remember one from an earlier run in the same --work.
  for (const port of CLUSTER_PORTS) rmSync(path.join(WORK, `cluster-${port}`), { recursive: true, force: true });
  for (const port of CLUSTER_PORTS) fleet.redisNodes.set(port, await startClusterNode(port));
  await redisCli('--cluster', 'create', ...CLUSTER_PORTS.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(CLUSTER_REPLICAS), '--cluster-yes');
  fleet.orgSlot = Number((await redisCli('-p', String(CLUSTER_PORT), 'CLUSTER', 'KEYSLOT', ORG_TAG)).trim());
  await waitClusterOk(fleet.orgSlot);
  // Replicas in sync before traffic starts.
  const deadline = Date.now() + 15_000;
  for (const port of CLUSTER_PORTS) {
    for (;;) {
      const role = await redisCli('-p', String(port), 'INFO', 'replication');
      if (role.includes('role:master') || role.includes('master_link_status:up')) break;
      if (Date.now() > deadline) throw new Error(`cluster node ${port} never synced`);
      await sleep(100);
    }
  }
}

/**
 * SIGKILL the primary that holds the organization's counters. With replicas, one is promoted (what it had
 * not yet replicated is lost) and the old primary, restarted after `downMs`, rejoins as its replica; without,
 * the primary is restarted empty after `downMs` and serves its slots again.
 */
async function failOverCluster(downMs) {
  const window = { from: Date.now(), to: Infinity };
  faultWindows.push(window);
  const victim = await waitClusterOk(fleet.orgSlot);
  const node = fleet.redisNodes.get(victim);
  node.child.kill('SIGKILL');
  await node.exited;
  noteFault(`redis primary ${victim} (slot ${fleet.orgSlot} of ${ORG_TAG}) SIGKILLed${CLUSTER_REPLICAS ? ', waiting for a replica to be promoted' : `, down for ${downMs} ms`}`);
  if (CLUSTER_REPLICAS) {
    const promoted = await waitClusterOk(fleet.orgSlot, victim);
    noteFault(`redis replica ${promoted} promoted`);
    await sleep(downMs);
    fleet.redisNodes.set(victim, await startClusterNode(victim));
    await waitClusterOk(fleet.orgSlot, victim);
    noteFault(`redis node ${victim} started again (empty), a replica now`);
  } else {
    await sleep(downMs);
    fleet.redisNodes.set(victim, await startClusterNode(victim));
    await waitClusterOk(fleet.orgSlot);
    noteFault(`redis primary ${victim} started again, empty`);
  }
  window.to = Date.now() + 3000;
}

const startMock = () =>
  startProcess('mock-upstream', process.execPath, [CLI, 'mock-upstream', '--host', '127.0.0.1', '--port', '0', '--latency-ms', '5'], /listening on (http:\/\/\S+)/);

function startGateway(i, configFile) {
  return startProcess(`gateway-${i}`, process.execPath, ['--single-threaded-gc', CLI, 'serve', '--config', configFile, '--host', '127.0.0.1', '--port', '0'], /listening on (http:\/\/\S+)/, {
    TOLLGATE_LOG_LEVEL: 'warn',
  });
}

async function freshDatabase() {
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${PG_DATABASE} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${PG_DATABASE}`);
  } finally {
    await admin.end();
  }
}

// ---------------------------------------------------------------------------------------------------
// The fleet: three gateways, each with its own copy of the config (so one can be reloaded alone).

const fleet = { gateways: [], configFiles: [], up: [true, true, true], mockUrl: '', exits: [] };

async function startFleet() {
  const mock = await startMock();
  fleet.mock = mock;
  fleet.mockUrl = mock.url;
  for (let i = 0; i < 3; i++) {
    fleet.configFiles[i] = path.join(WORK, `gateway-${i}.yaml`);
    writeFileSync(fleet.configFiles[i], configYaml(mock.url));
  }
  // One at a time: the first creates the ledger's tables.
  for (let i = 0; i < 3; i++) fleet.gateways[i] = await startGateway(i, fleet.configFiles[i]);
}

/** A gateway that is up, at random: clients do not send to one being restarted (a load balancer would not). */
function gatewayUrl() {
  const live = fleet.gateways.map((g, i) => (fleet.up[i] ? g.url : null)).filter(Boolean);
  return pick(live);
}

// ---------------------------------------------------------------------------------------------------
// Traffic: each call returns a record {kind, status, requestId, ms, error?}; requestId is what the
// gateway named the call (x-tollgate-request-id), read from the response head the client got.

const PROMPTS = ['Say hello.', 'Count to five, slowly.', 'Summarize why budgets matter in one line.', 'Write a haiku about queues.', 'List three prime numbers.'];

function clientsFor(key, baseUrl) {
  const common = { apiKey: secretOf(key), maxRetries: 0, timeout: CALL_TIMEOUT_MS - 5_000 };
  return { openai: new OpenAI({ ...common, baseURL: `${baseUrl}/v1` }), anthropic: new Anthropic({ ...common, baseURL: baseUrl }) };
}

const requestIdOf = (response) => response.headers.get('x-tollgate-request-id');

/** Reads a stream to its end, or aborts it after `abortAfter` events (null: never). */
async function consume(stream, controller, abortAfter) {
  let events = 0;
  try {
    for await (const _ of stream) {
      if (abortAfter !== null && ++events >= abortAfter) {
        controller.abort();
        return 'aborted';
      }
    }
    return 'complete';
  } catch (err) {
    if (controller.signal.aborted) return 'aborted';
    throw err;
  }
}

// Each kind of call: (clients, ctx) => Promise<{response, streamEnd?}>. `ctx.maxTokens` is random; some
// streams are aborted part-way by the client, as a user closing a tab does.
const CALLS = {
  async chat({ openai }, ctx) {
    const { response } = await openai.chat.completions
      .create({ model: 'gpt-4o', max_tokens: ctx.maxTokens, mock_output_tokens: ctx.output, messages: [{ role: 'user', content: ctx.prompt }] })
      .withResponse();
    return { response };
  },
  async chatStream({ openai }, ctx) {
    const controller = new AbortController();
    const { data, response } = await openai.chat.completions
      .create(
        { model: 'gpt-4o', stream: true, max_tokens: ctx.maxTokens, mock_output_tokens: ctx.output, mock_chunk_delay_ms: 5, messages: [{ role: 'user', content: ctx.prompt }] },
        { signal: controller.signal },
      )
      .withResponse();
    return { response, streamEnd: await consume(data, controller, ctx.abortAfter) };
  },
  async completions({ openai }, ctx) {
    const { response } = await openai.completions.create({ model: 'gpt-4o', prompt: ctx.prompt, max_tokens: ctx.maxTokens, mock_output_tokens: ctx.output }).withResponse();
    return { response };
  },
  async embeddings({ openai }, ctx) {
    const { response } = await openai.embeddings.create({ model: 'text-embedding-3-small', input: [ctx.prompt, 'second input'] }).withResponse();
    return { response };
  },
  async responses({ openai }, ctx) {
    const { response } = await openai.responses
      .create({ model: 'gpt-4o', input: ctx.prompt, max_output_tokens: Math.max(16, ctx.maxTokens), mock_output_tokens: ctx.output })
      .withResponse();
    return { response };
  },
  async responsesStream({ openai }, ctx) {
    const controller = new AbortController();
    const { data, response } = await openai.responses
      .create({ model: 'gpt-4o', input: ctx.prompt, stream: true, max_output_tokens: Math.max(16, ctx.maxTokens), mock_output_tokens: ctx.output, mock_chunk_delay_ms: 5 }, { signal: controller.signal })
      .withResponse();
    return { response, streamEnd: await consume(data, controller, ctx.abortAfter) };
  },
  async messages({ anthropic }, ctx) {
    const { response } = await anthropic.messages
      .create({ model: 'claude-sonnet-4', max_tokens: ctx.maxTokens, mock_output_tokens: ctx.output, messages: [{ role: 'user', content: ctx.prompt }] })
      .withResponse();
    return { response };
  },
  async messagesStream({ anthropic }, ctx) {
    const controller = new AbortController();
    const { data, response } = await anthropic.messages
      .create(
        { model: 'claude-sonnet-4', stream: true, max_tokens: ctx.maxTokens, mock_output_tokens: ctx.output, mock_chunk_delay_ms: 5, messages: [{ role: 'user', content: ctx.prompt }] },
        { signal: controller.signal },
      )
      .withResponse();
    return { response, streamEnd: await consume(data, controller, ctx.abortAfter) };
  },
  // Invalid calls: never anyone's call, so no ledger row (README, "Usage ledger"), and never a 2xx.
  async unknownModel({ openai }, ctx) {
    const { response } = await openai.chat.completions.create({ model: 'gpt-nope', max_tokens: ctx.maxTokens, messages: [{ role: 'user', content: ctx.prompt }] }).withResponse();
    return { response };
  },
  async badJson(_clients, ctx) {
    const response = await fetch(`${ctx.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secretOf(ctx.key)}`, 'content-type': 'application/json' },
      body: '{"model": "gpt-4o", "messages": [',
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS - 5_000),
    });
    await response.arrayBuffer();
    if (response.ok) return { response };
    const err = new Error(`HTTP ${response.status}`);
    err.status = response.status;
    err.headers = response.headers;
    throw err;
  },
};

// How often each kind is sent (weights).
const MIX = { chat: 5, chatStream: 5, completions: 2, embeddings: 2, responses: 2, responsesStream: 2, messages: 4, messagesStream: 4, unknownModel: 1, badJson: 1 };
const MIX_LIST = Object.entries(MIX).flatMap(([kind, w]) => Array(w).fill(kind));

/** One random call, timed, never throwing: what happened is in the record. */
async function oneCall() {
  const kind = pick(MIX_LIST);
  const key = pick(KEYS);
  const baseUrl = gatewayUrl();
  const maxTokens = randomInt(1, 96);
  const ctx = {
    key,
    baseUrl,
    prompt: pick(PROMPTS),
    maxTokens,
    // The mock's answer length: usually what was asked, sometimes less (a refund on settlement).
    output: random() < 0.7 ? maxTokens : randomInt(0, maxTokens),
    abortAfter: random() < 0.2 ? randomInt(1, 6) : null,
  };
  const record = { kind, key: key.id, gateway: baseUrl, sentAt: Date.now(), status: 0, requestId: null, ms: 0 };
  let watchdog;
  const hung = new Promise((resolve) => (watchdog = setTimeout(() => resolve('hung'), CALL_TIMEOUT_MS)));
  try {
    const outcome = await Promise.race([CALLS[kind](clientsFor(key, baseUrl), ctx), hung]);
    if (outcome === 'hung') {
      record.hung = true;
    } else {
      record.status = outcome.response.status;
      record.requestId = requestIdOf(outcome.response);
      record.streamEnd = outcome.streamEnd;
    }
  } catch (err) {
    record.status = err.status ?? 0;
    record.requestId = err.headers?.get?.('x-tollgate-request-id') ?? null;
    record.error = err.error?.error?.code ?? err.error?.error?.type ?? err.code ?? err.name ?? String(err);
    record.limit = err.headers?.get?.('x-tollgate-limit') ?? undefined;
  } finally {
    clearTimeout(watchdog);
  }
  record.ms = Date.now() - record.sentAt;
  return record;
}

async function driveTraffic(untilMs, records) {
  const loop = async () => {
    while (Date.now() < untilMs) records.push(await oneCall());
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
}

// ---------------------------------------------------------------------------------------------------
// Faults, at fixed fractions of the run; each is logged with when it happened.

const faults = [];
const noteFault = (what) => {
  faults.push({ atS: Math.round((Date.now() - runStartedAt) / 100) / 10, what });
  console.log(`  fault @${faults[faults.length - 1].atS}s: ${what}`);
};
let runStartedAt = 0;
// When client errors are expected: [from, to] (ms), for every gateway or one (its URL). A few seconds after
// Redis is back cover the rebuild from the ledger (storage.rebuild_wait_ms, 2 s).
const faultWindows = [];

/** Gateway 0's config gets a raised project limit: only it reloads (the others keep the old one). */
async function reloadOneGateway() {
  writeFileSync(fleet.configFiles[0], configYaml(fleet.mockUrl, LIMITS.projectWebReloaded));
  noteFault(`config of gateway 0 rewritten (project web ${LIMITS.projectDaily.web} -> ${LIMITS.projectWebReloaded})`);
}

/** SIGTERM one gateway (taken out of rotation first, as a load balancer would), then start it again. */
async function restartGateway(i) {
  fleet.up[i] = false;
  const window = { from: Date.now(), to: Infinity, gateway: fleet.gateways[i].url };
  faultWindows.push(window);
  await sleep(200); // calls already picked this gateway: let them reach it before it closes its listener
  const exit = await stopProcess(fleet.gateways[i]);
  fleet.exits.push({ gateway: i, phase: 'restart', ...exit });
  noteFault(`gateway ${i} SIGTERMed (exit ${JSON.stringify(exit)}), restarting`);
  fleet.gateways[i] = await startGateway(i, fleet.configFiles[i]);
  window.to = Date.now();
  fleet.up[i] = true;
  noteFault(`gateway ${i} back at ${fleet.gateways[i].url}`);
}

/** Kill Redis (no persistence: every counter is lost), leave it down a few seconds, start it again. */
async function restartRedis(downMs) {
  const window = { from: Date.now(), to: Infinity };
  faultWindows.push(window);
  fleet.redis.child.kill('SIGKILL');
  await fleet.redis.exited;
  noteFault(`redis SIGKILLed, down for ${downMs} ms`);
  await sleep(downMs);
  fleet.redis = await startRedis();
  window.to = Date.now() + 3000;
  noteFault('redis started again, empty');
}

async function killLedgerConnections() {
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    const killed = await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${PG_DATABASE}' AND pid <> pg_backend_pid()`);
    noteFault(`${killed.length} ledger connections terminated`);
  } finally {
    await admin.end();
  }
}

async function sighupGateway(i) {
  fleet.gateways[i].child.kill('SIGHUP');
  noteFault(`gateway ${i} SIGHUP (reload, config unchanged)`);
}

async function injectFaults(seconds) {
  const at = async (fraction, fault) => {
    const wait = runStartedAt + fraction * seconds * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    await fault();
  };
  await at(0.15, reloadOneGateway);
  await at(0.3, () => restartGateway(1));
  await at(0.45, () => (CLUSTER ? failOverCluster(3000) : restartRedis(3000)));
  await at(0.6, killLedgerConnections);
  await at(0.7, () => sighupGateway(2));
  await at(0.8, () => restartGateway(2));
  await at(0.9, killLedgerConnections);
}

// ---------------------------------------------------------------------------------------------------
// Invariants.

const results = [];
function verdict(name, ok, detail) {
  results.push({ name, ok, detail });
  console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}${detail ? `\n      ${detail.split('\n').join('\n      ')}` : ''}`);
}
// Documented behaviour that looks like a failure: reported, not failed.
function note(name, detail) {
  results.push({ name, ok: true, note: true, detail });
  console.log(`NOTE  ${name}\n      ${detail.split('\n').join('\n      ')}`);
}

/** `tollgate audit --format json` against one gateway: its report, or why there is none. */
function runAudit(url) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'audit', '--url', url, '--admin-key', ADMIN_KEY, '--format', 'json', '--timeout', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      try {
        resolve({ code, report: JSON.parse(out) });
      } catch {
        resolve({ code, problem: (err || out).trim() });
      }
    });
  });
}

async function checkAudit(redisRestarted) {
  for (let i = 0; i < fleet.gateways.length; i++) {
    const { code, report, problem } = await runAudit(fleet.gateways[i].url);
    if (!report) {
      verdict(`audit of gateway ${i} ran`, false, `exit ${code}: ${problem}`);
      continue;
    }
    const drifting = report.lines.filter((l) => l.drift !== 0);
    const above = drifting.filter((l) => l.drift > 0);
    const below = drifting.filter((l) => l.drift < 0);
    writeFileSync(path.join(WORK, `audit-gateway-${i}.json`), JSON.stringify(report, null, 2));
    const show = (ls) => ls.map((l) => `${l.limit}: counter ${l.counter}, ledger ${l.ledger}, drift ${l.drift}`).join('\n');
    verdict(`audit of gateway ${i}: no counter above the ledger (${report.lines.length} limits, ${report.openReservations} open reservations)`, above.length === 0, above.length ? show(above) : '');
    // Counters below the ledger after Redis lost its state are documented (README, "tollgate audit"): the
    // usage of other instances' calls that ended before they noticed the loss is not restored.
    if (below.length === 0) verdict(`audit of gateway ${i}: no counter below the ledger`, true);
    else if (redisRestarted) note(`audit of gateway ${i}: ${below.length} counters below the ledger (documented after a Redis restart)`, show(below));
    else verdict(`audit of gateway ${i}: no counter below the ledger`, false, show(below));
  }
}

async function ledgerRows(sql) {
  return sql.unsafe(
    `SELECT ts, request_id, project, user_id, key_id, key_groups, route, endpoint, status, decision, input_tokens, output_tokens, cost_usd, input_cost_usd FROM tollgate_ledger ORDER BY ts`,
  );
}

function checkRowsPerCall(records, rows) {
  const rowsById = new Map();
  for (const r of rows) rowsById.set(r.request_id, (rowsById.get(r.request_id) ?? 0) + 1);
  const ok2xx = records.filter((r) => r.status >= 200 && r.status < 300);
  const missing = ok2xx.filter((r) => !rowsById.has(r.requestId));
  const noId = ok2xx.filter((r) => !r.requestId);
  const duplicated = [...rowsById].filter(([, n]) => n > 1);
  const sample = (list) => list.slice(0, 5).map((r) => JSON.stringify(r)).join('\n');
  verdict(`every 2xx the clients got has a ledger row (${ok2xx.length} 2xx, ${rows.length} rows)`, missing.length === 0 && noId.length === 0, missing.length ? `${missing.length} without a row:\n${sample(missing)}` : noId.length ? `${noId.length} 2xx without x-tollgate-request-id` : '');
  verdict('no request id has more than one ledger row', duplicated.length === 0, duplicated.length ? duplicated.slice(0, 5).map(([id, n]) => `${id}: ${n} rows`).join('\n') : '');
  // 429s and other refusals of known keys are calls too (decision blocked): each has its row.
  const refused = records.filter((r) => r.status === 429 && r.requestId);
  const refusedMissing = refused.filter((r) => !rowsById.has(r.requestId));
  verdict(`every 429 has a ledger row (${refused.length} 429s)`, refusedMissing.length === 0, refusedMissing.length ? `${refusedMissing.length} without a row:\n${sample(refusedMissing)}` : '');
}

const tokensOf = (r) => Number(r.input_tokens) + Number(r.output_tokens);
const groupsOf = (r) => (typeof r.key_groups === 'string' ? JSON.parse(r.key_groups) : r.key_groups ?? []);

/** The most that any window of `windowMs` holds (rows by ts): fixed windows when `fixed`, else any sliding one. */
function worstWindow(rows, weigh, windowMs, fixed) {
  if (fixed) {
    const per = new Map();
    for (const r of rows) {
      const w = Math.floor(Number(r.ts) / windowMs);
      per.set(w, (per.get(w) ?? 0) + weigh(r));
    }
    return Math.max(0, ...per.values());
  }
  let worst = 0;
  let sum = 0;
  for (let lo = 0, hi = 0; hi < rows.length; hi++) {
    sum += weigh(rows[hi]);
    while (Number(rows[hi].ts) - Number(rows[lo].ts) >= windowMs) sum -= weigh(rows[lo++]);
    worst = Math.max(worst, sum);
  }
  return worst;
}

/** A token bucket of `max` refilled at max per `windowMs`: in any interval [a, b], at most max + (b - a) * max / window. */
function worstBucketExcess(rows, weigh, max, windowMs) {
  let worst = -Infinity;
  for (let i = 0; i < rows.length; i++) {
    let sum = 0;
    for (let j = i; j < rows.length; j++) {
      sum += weigh(rows[j]);
      const allowed = max + ((Number(rows[j].ts) - Number(rows[i].ts)) * max) / windowMs;
      worst = Math.max(worst, sum - allowed);
    }
  }
  return worst;
}

// A row's ts is when its request started; it is admitted a little later (tokenizing, a Redis round trip,
// at most rebuild_wait_ms while counters are rebuilt). Rolling windows are checked over windows this much
// shorter, so that lag cannot make two admissions a window apart look like one window's.
const ADMISSION_LAG_MS = 3000;

function checkLimits(rows) {
  const charged = rows.filter((r) => tokensOf(r) > 0 || Number(r.cost_usd) > 0);
  const served = rows.filter((r) => r.decision === 'admitted' || r.decision === 'clamped');
  const by = (list, f) => {
    const m = new Map();
    for (const r of list) for (const k of [].concat(f(r))) m.set(k, [...(m.get(k) ?? []), r]);
    return m;
  };
  const checks = [];
  const add = (limit, used, max) => checks.push({ limit, used, max });
  const DAY = 86_400_000;
  add('organization daily', worstWindow(charged, tokensOf, DAY, true), LIMITS.orgDaily);
  for (const [p, list] of by(charged, (r) => r.project)) {
    // gateway 0 runs the raised limit after the reload: the largest configured limit is the bound.
    const max = p === 'web' ? Math.max(LIMITS.projectDaily.web, LIMITS.projectWebReloaded) : LIMITS.projectDaily[p];
    add(`project ${p} daily`, worstWindow(list, tokensOf, DAY, true), max);
  }
  const tierOf = Object.fromEntries(KEYS.map((k) => [k.user, k.tier]));
  for (const [u, list] of by(charged, (r) => r.user_id)) add(`user ${u} (${tierOf[u]}) daily`, worstWindow(list, tokensOf, DAY, true), LIMITS.tierDaily[tierOf[u]]);
  for (const [u, list] of by(served, (r) => r.user_id)) add(`user ${u} (${tierOf[u]}) requests per minute`, worstWindow(list, () => 1, 60_000 - ADMISSION_LAG_MS, false), LIMITS.tierRate[tierOf[u]]);
  for (const [g, list] of by(charged, groupsOf)) {
    if (g === 'team') add('group team daily', worstWindow(list, tokensOf, DAY, true), LIMITS.groupDaily.team);
    // In whole nano-dollars: floats summed over thousands of rows drift by 1e-15 either way (0.40500000000000236
    // of 0.40499999999999997 was read as over, 0.5399999999999999 of it rounded up to 0.54).
    const nano = (usd) => Math.round(usd * 1e9);
    if (g === 'spenders') add('group spenders daily (nano-USD)', worstWindow(list, (r) => nano(Number(r.cost_usd)), DAY, true), nano(LIMITS.groupMoneyUsd.spenders));
  }
  const gpt = charged.filter((r) => r.route === 'gpt');
  for (const [k, list] of by(gpt, (r) => r.key_id)) {
    add(`route gpt input, key ${k}, per hour`, worstWindow(list, (r) => Number(r.input_tokens), 3_600_000, true), LIMITS.gptRouteInputPerKeyHour);
    add(`route gpt output, key ${k}, sliding minute`, worstWindow(list, (r) => Number(r.output_tokens), 60_000 - ADMISSION_LAG_MS, false), LIMITS.gptRouteOutputPerKeyMinute);
  }
  const claude = charged.filter((r) => r.route === 'claude');
  const bucketMax = LIMITS.claudeRouteOutputBucket;
  const bucketWindow = LIMITS.claudeRouteOutputBucketWindowMs;
  const excess = worstBucketExcess(claude, (r) => Number(r.output_tokens), bucketMax, bucketWindow);
  add('route claude output, token bucket (worst interval, less its refill)', Math.round(bucketMax + excess - (bucketMax * ADMISSION_LAG_MS) / bucketWindow), bucketMax);
  const over = checks.filter((c) => c.used > c.max);
  const table = checks.map((c) => `${c.used > c.max ? 'OVER' : '    '} ${c.limit}: ${c.used} of ${c.max}`).join('\n');
  verdict(`no limit admitted more than its limit (${checks.length} limits)`, over.length === 0, table);
  return checks;
}

// Error-level log lines that an injected fault explains: the ledger's connections were terminated.
// A gateway restarted just before a kill (its start-up rebuild's read cut) keeps the counters Redis has.
const EXPLAINED_ERRORS = [/ledger write failed; rows are kept and retried/, /could not rebuild counters from the ledger/];

/** Uncaught exceptions, stack traces, fatal lines, and error-level lines no fault explains. */
function crashSigns(output) {
  return output.split('\n').filter((l) => {
    if (/Uncaught|unhandled|^\s+at .+:\d+:\d+\)?$|TypeError|ReferenceError|RangeError|"level":60/.test(l)) return true;
    return /"level":50/.test(l) && !EXPLAINED_ERRORS.some((re) => re.test(l));
  });
}

function checkProcesses(allGatewayRuns) {
  const badExits = fleet.exits.filter((e) => e.code !== 0);
  verdict(`every gateway exited 0 on SIGTERM (${fleet.exits.length} stops)`, badExits.length === 0, badExits.map((e) => JSON.stringify(e)).join('\n'));
  const signs = allGatewayRuns.flatMap((g) => crashSigns(g.output).map((l) => `${g.name}: ${l.slice(0, 400)}`));
  verdict('no uncaught exception, stack trace or unexplained error-level log line in any gateway output', signs.length === 0, signs.slice(0, 15).join('\n'));
  const explained = allGatewayRuns.flatMap((g) => g.output.split('\n').filter((l) => /"level":50/.test(l) && EXPLAINED_ERRORS.some((re) => re.test(l))));
  if (explained.length) note(`${explained.length} error-level log lines explained by the ledger connection kills`, explained.slice(0, 3).map((l) => l.slice(0, 300)).join('\n'));
  const unexpected = allGatewayRuns.filter((g) => g.exit && !g.stopping);
  verdict('no gateway died during the run', unexpected.length === 0, unexpected.map((g) => `${g.name}: ${JSON.stringify(g.exit)}`).join('\n'));
}

/** 5xx answers and failed connections outside the fault windows (Redis down and rebuilding, a gateway stopping). */
function checkErrorsExplained(records) {
  const inWindow = (r) => faultWindows.some((w) => r.sentAt + r.ms >= w.from && r.sentAt <= w.to && (!w.gateway || w.gateway === r.gateway));
  const errors = records.filter((r) => !r.hung && (r.status === 0 || r.status >= 500));
  const unexplained = errors.filter((r) => !inWindow(r));
  verdict(`every 5xx or failed connection falls in a fault window (${errors.length} in all)`, unexplained.length === 0, unexplained.slice(0, 8).map((r) => JSON.stringify(r)).join('\n'));
}

function checkNoHang(records) {
  const hung = records.filter((r) => r.hung);
  const slowest = records.reduce((a, r) => Math.max(a, r.ms), 0);
  verdict(`no client call hung (slowest ${slowest} ms, limit ${CALL_TIMEOUT_MS} ms)`, hung.length === 0, hung.slice(0, 5).map((r) => JSON.stringify(r)).join('\n'));
}

function summarize(records) {
  const by = (f) => {
    const m = {};
    for (const r of records) m[f(r)] = (m[f(r)] ?? 0) + 1;
    return m;
  };
  console.log(`calls: ${records.length} (${(records.length / SECONDS).toFixed(1)}/s)`);
  console.log(`  by status: ${JSON.stringify(by((r) => r.status))}`);
  console.log(`  by kind: ${JSON.stringify(by((r) => r.kind))}`);
  console.log(`  errors: ${JSON.stringify(by((r) => (r.status >= 200 && r.status < 300 ? 'ok' : `${r.status}:${r.error ?? ''}`)))}`);
  console.log(`  429s by limit: ${JSON.stringify(by((r) => (r.status === 429 ? r.limit ?? 'unnamed' : 'no-429')))}`);
  console.log(`  streams aborted by the client: ${records.filter((r) => r.streamEnd === 'aborted').length}`);
}

// ---------------------------------------------------------------------------------------------------

async function main() {
  mkdirSync(WORK, { recursive: true });
  const msToMidnight = 86_400_000 - (Date.now() % 86_400_000);
  if (msToMidnight < (SECONDS + 120) * 1000) throw new Error('too close to midnight UTC: the daily windows would roll over mid-run');
  console.log(`soak: ${SECONDS} s, ${CONCURRENCY} client loops, seed ${SEED}, lease_ms ${LEASE_MS}, counters ${COUNTERS_URL}, logs in ${WORK}`);
  await freshDatabase();
  if (CLUSTER) await startCluster();
  else fleet.redis = await startRedis();
  await startFleet();
  const allGatewayRuns = [...fleet.gateways];

  const records = [];
  runStartedAt = Date.now();
  const traffic = driveTraffic(runStartedAt + SECONDS * 1000, records);
  const faultsDone = injectFaults(SECONDS).catch((err) => verdict('faults injected', false, String(err?.stack ?? err)));
  // Gateways started by a restart are watched too.
  const watch = setInterval(() => fleet.gateways.forEach((g) => allGatewayRuns.includes(g) || allGatewayRuns.push(g)), 200);
  await Promise.all([traffic, faultsDone]);
  clearInterval(watch);
  fleet.gateways.forEach((g) => allGatewayRuns.includes(g) || allGatewayRuns.push(g));
  summarize(records);

  // Quiesce: every call has finished; give the writers a few flush intervals.
  await sleep(2000);
  await checkAudit(faults.some((f) => f.what.startsWith('redis')));

  for (let i = 0; i < fleet.gateways.length; i++) fleet.exits.push({ gateway: i, phase: 'final', ...(await stopProcess(fleet.gateways[i])) });
  await stopProcess(fleet.mock);

  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  let rows;
  try {
    rows = await ledgerRows(sql);
  } finally {
    await sql.end();
  }
  checkRowsPerCall(records, rows);
  checkLimits(rows);
  checkProcesses(allGatewayRuns);
  checkErrorsExplained(records);
  checkNoHang(records);
  if (CLUSTER) for (const node of fleet.redisNodes.values()) await stopProcess(node);
  else await stopProcess(fleet.redis);

  const failed = results.filter((r) => !r.ok);
  console.log(`\nfaults: ${faults.map((f) => `@${f.atS}s ${f.what}`).join('; ')}`);
  console.log(`ledger rows: ${rows.length}; 2xx calls: ${records.filter((r) => r.status >= 200 && r.status < 300).length}`);
  console.log(failed.length ? `SOAK FAILED: ${failed.length} invariant(s)` : 'SOAK PASSED');
  writeFileSync(path.join(WORK, 'records.json'), JSON.stringify(records));
  process.exitCode = failed.length ? 1 : 0;
}

await main();
