// The soak's settings (from the command line), its limits, keys and pricing, and the gateways' YAML.
import path from 'node:path';

export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const ADMIN_KEY = 'soak-admin-key';
// A client call that takes longer than this has hung: the SDKs' own timeout is a little shorter, so a
// gateway that never answers shows as an SDK timeout error first, and this catches a client that hangs anyway.
export const CALL_TIMEOUT_MS = 30_000;
// The soak's one organization's hash tag (hash-tags.ts: `tg:{org}`); its counters all live in this slot.
export const ORG_TAG = 'tg:{default}';

/** The run's settings, from parseArgs' values: what was module-level constants in one file. */
export function settingsFrom(args) {
  const SECONDS = Number(args.seconds);
  const REDIS_PORT = Number(args['redis-port']);
  const CLUSTER = args.cluster;
  const CLUSTER_PORT = Number(args['cluster-port']);
  const CLUSTER_REPLICAS = Number(args['cluster-replicas']);
  const CLUSTER_PORTS = Array.from({ length: 3 * (1 + CLUSTER_REPLICAS) }, (_, i) => CLUSTER_PORT + i);
  // A cluster run has its own database, so that it may run beside a single-Redis one.
  const PG_DATABASE = CLUSTER ? 'tollgate_soak_cluster' : 'tollgate_soak';
  const DIST = path.resolve(args.dist);
  return {
    DIST,
    CLI: path.join(DIST, 'cli/index.js'),
    SECONDS,
    CONCURRENCY: Number(args.concurrency),
    SEED: Number(args.seed ?? Date.now() % 1_000_000),
    REDIS_PORT,
    WORK: path.resolve(args.work),
    LEASE_MS: Number(args['lease-ms']),
    CLUSTER,
    CLUSTER_PORT,
    CLUSTER_REPLICAS,
    CLUSTER_PORTS,
    PG_DATABASE,
    PG_URL: `postgres://postgres@127.0.0.1:5432/${PG_DATABASE}`,
    COUNTERS_URL: CLUSTER ? `redis-cluster://${CLUSTER_PORTS.map((p) => `127.0.0.1:${p}`).join(',')}` : `redis://127.0.0.1:${REDIS_PORT}/0`,
    LIMITS: limitsFor(SECONDS),
  };
}

// ---------------------------------------------------------------------------------------------------
// The configuration: hard limits at every level. Daily limits scale with the run's length, so that each
// binds during it whatever --seconds is: per second of run, from a first run's rates on a busy 2-core VM
// (~250 calls/s, ~1,600 tokens/s served in all once the lower limits bind, ~500/s per busy key, a free
// user's ~30/s under its rate limit), each set a little under what its owner spent in those runs, so that
// it binds in the last part of the run. Rolling limits bind from the first minute.

export function limitsFor(S) {
  return {
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
}

export const KEYS = [
  { id: 'alice', user: 'alice', tier: 'pro', project: 'web', groups: ['team'] },
  { id: 'bob', user: 'bob', tier: 'pro', project: 'web', groups: ['team', 'spenders'] },
  { id: 'carol', user: 'carol', tier: 'free', project: 'web', groups: [] },
  { id: 'dave', user: 'dave', tier: 'pro', project: 'batch', groups: ['spenders'] },
  { id: 'erin', user: 'erin', tier: 'free', project: 'batch', groups: ['team'] },
  { id: 'frank', user: 'frank', tier: 'pro', project: 'batch', groups: [] },
];
export const secretOf = (key) => `tg-soak-${key.id}`;

export const PRICING = {
  'oai/gpt-4o': { input: 2.5, output: 10 },
  'oai/text-embedding-3-small': { input: 0.02, output: 0 },
  'ant/claude-sonnet-4-20250514': { input: 3, output: 15 },
};

export function configYaml(cfg, mockUrl, projectWebLimit = cfg.LIMITS.projectDaily.web) {
  const { COUNTERS_URL, PG_URL, LEASE_MS, LIMITS } = cfg;
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
