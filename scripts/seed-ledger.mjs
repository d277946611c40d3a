#!/usr/bin/env node
// Seeds a production-sized ledger straight through SQL (not through the gateway), and writes a config
// whose keys, routes and limits match its rows, to time start-up, the dashboard, reports and the audit:
//
//   node scripts/seed-ledger.mjs --rows 3000000 --days 45 --ledger sqlite:/tmp/x/ledger.db --config /tmp/x/tollgate.yaml
//   node scripts/seed-ledger.mjs --rows 3000000 --ledger postgres://postgres@127.0.0.1:5432/tg_x --config ...
//
// 5 organizations (the first holds 40% of the users), 50 projects, 5,000 users (one key each), 20 models,
// rows spread evenly over the last --days days, ending now (or at --end 2026-11-30T23:00:00Z: a ledger as it
// stands late in a month, for a rebuild that sums a whole month). Needs `npm run build` (it migrates the
// schema with dist/). The database must be empty (a new file; a new PostgreSQL database).
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { openLedger } from '../dist/ledger/open-ledger.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    days: { type: 'string', default: '45' },
    ledger: { type: 'string' },
    config: { type: 'string' },
    port: { type: 'string', default: '0' },
    end: { type: 'string' },
  },
});
if (!args.ledger || !args.config) throw new Error('give --ledger URL and --config FILE');
if (args.end !== undefined && !Number.isFinite(Date.parse(args.end))) throw new Error(`--end must be an ISO 8601 time, not '${args.end}'`);
const ROWS = Number(args.rows);
const DAY_MS = 86_400_000;
const ORGS = 5;
const PROJECTS_PER_ORG = 10;
const USERS = 5000;
const CHAT_MODELS = 18;
const EMBEDDING_MODELS = 2;

// Deterministic: the same arguments seed the same rows (apart from `now`).
let seed = 0x2545f491;
const random = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};

const orgOf = (u) => (u % 10 < 4 ? 0 : 1 + (u % 4)); // org0 40%, the others 15% each
const projectOf = (u) => `p${orgOf(u)}-${Math.floor(u / 10) % PROJECTS_PER_ORG}`;
const tierOf = (u) => (u % 3 === 0 ? 'premium' : 'standard');
const models = [
  ...Array.from({ length: CHAT_MODELS }, (_, i) => ({ id: `chat-${i}`, endpoint: 'chat', input: 0.15 + i * 0.4, output: 0.6 + i * 1.6 })),
  ...Array.from({ length: EMBEDDING_MODELS }, (_, i) => ({ id: `embed-${i}`, endpoint: 'embeddings', input: 0.02 + i * 0.1, output: 0 })),
];

writeFileSync(args.config, config());

// The current schema, by the gateway's own migrations.
const ledger = await openLedger(args.ledger, { baseDir: process.cwd() });
await ledger.close();

const now = args.end ? Date.parse(args.end) : Date.now();
const start = now - Number(args.days) * DAY_MS;
const t0 = performance.now();
if (args.ledger.startsWith('sqlite:')) seedSqlite(args.ledger.slice('sqlite:'.length));
else await seedPostgres(args.ledger);
console.log(`seeded ${ROWS} rows over ${args.days} days into ${args.ledger} in ${Math.round(performance.now() - t0)} ms; config ${args.config}`);

/** Every row, oldest first: [context, call columns...]. */
function* rows() {
  for (let i = 0; i < ROWS; i++) {
    const u = Math.floor(random() ** 1.5 * USERS); // a few heavy users, a long tail
    // Most users stick to a few models; everyone now and then tries another.
    const m = random() < 0.8 ? (u * 7 + Math.floor(random() * 3)) % models.length : Math.floor(random() * models.length);
    const model = models[m];
    const r = random();
    const decision = r < 0.9 ? 'admitted' : r < 0.93 ? 'clamped' : r < 0.98 ? 'blocked' : 'failed';
    const served = decision === 'admitted' || decision === 'clamped';
    const input = served ? 50 + Math.floor(random() * 4000) : 0;
    const output = served && model.endpoint === 'chat' ? 10 + Math.floor(random() * 1000) : 0;
    const cached = served && random() < 0.3 ? Math.floor(input / 2) : 0;
    const inputCost = (input * model.input) / 1e6;
    const cost = inputCost + (output * model.output) / 1e6;
    const ts = Math.floor(start + ((i + random()) / ROWS) * (now - start));
    yield {
      ctx: { u, m },
      ts,
      requestId: `req_${ts.toString(36)}${i.toString(36).padStart(6, '0')}${Math.floor(random() * 1e9).toString(36)}`,
      stream: random() < 0.5,
      tags: random() < 0.5 ? `{"feature":"f${u % 7}"}` : '{}',
      status: decision === 'blocked' ? 429 : decision === 'failed' ? 502 : 200,
      decision,
      blockedBy: decision === 'blocked' ? `user:u${u}:daily` : null,
      input,
      output,
      cached,
      reservedInput: input + 5,
      reservedOutput: served ? 1024 : 0,
      cost,
      inputCost,
      latency: 200 + random() * 3000,
    };
  }
}

function contextValues({ u, m }) {
  const model = models[m];
  return [
    `org${orgOf(u)}`, projectOf(u), `u${u}`, `k${u}`, JSON.stringify([`g${u % 20}`]), 'main', model.id, 'mock', model.id, model.endpoint,
    JSON.stringify([`org:org${orgOf(u)}:monthly`, `project:${projectOf(u)}:daily`, `user:u${u}:daily`]),
  ];
}

function seedSqlite(path) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const addContext = db.prepare(
    `INSERT INTO tollgate_call_contexts (context_key, organization, project, user_id, key_id, key_groups, route, model_id, provider, model, endpoint, limits)
     VALUES (json_array(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const addCall = db.prepare(
    `INSERT INTO tollgate_calls (ts, request_id, context_id, stream, stream_end, tags, status, decision, blocked_by, shadow_blocked, fallback,
       input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens, cache_write_1h_input_tokens, reserved_input, reserved_output,
       cost_usd, input_cost_usd, service_tier, usage_source, latency_ms, upstream_latency_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', NULL, ?, ?, ?, 0, 0, ?, ?, ?, ?, NULL, ?, ?, ?)`,
  );
  const contexts = new Map();
  const batch = db.transaction((list) => {
    for (const r of list) {
      const key = `${r.ctx.u}/${r.ctx.m}`;
      let id = contexts.get(key);
      if (id === undefined) {
        const v = contextValues(r.ctx);
        id = Number(addContext.run(...v, ...v).lastInsertRowid);
        contexts.set(key, id);
      }
      addCall.run(
        r.ts, r.requestId, id, r.stream ? 1 : 0, r.stream ? 'complete' : null, r.tags, r.status, r.decision, r.blockedBy,
        r.input, r.output, r.cached, r.reservedInput, r.reservedOutput, r.cost, r.inputCost, r.input > 0 ? 'provider' : 'none', r.latency, r.latency - 20,
      );
    }
  });
  let list = [];
  for (const r of rows()) {
    list.push(r);
    if (list.length === 50_000) {
      batch(list);
      list = [];
    }
  }
  batch(list);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.exec('ANALYZE');
  db.close();
}

async function seedPostgres(url) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const columns =
    'ts, request_id, organization, project, user_id, key_id, key_groups, route, model_id, provider, model, endpoint, stream, stream_end, tags, status, decision, ' +
    'blocked_by, limits, shadow_blocked, fallback, input_tokens, output_tokens, cached_input_tokens, reserved_input, reserved_output, cost_usd, input_cost_usd, ' +
    'usage_source, latency_ms, upstream_latency_ms';
  const stream = await sql.unsafe(`COPY tollgate_ledger (${columns}) FROM STDIN`).writable();
  const text = (v) => (v === null ? '\\N' : String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n'));
  let chunk = [];
  const flush = () =>
    new Promise((resolve) => {
      const ok = stream.write(chunk.join(''));
      chunk = [];
      if (ok) resolve();
      else stream.once('drain', resolve);
    });
  for (const r of rows()) {
    const [organization, project, user, key, groups, route, modelId, provider, model, endpoint, limits] = contextValues(r.ctx);
    const values = [
      r.ts, r.requestId, organization, project, user, key, groups, route, modelId, provider, model, endpoint, r.stream, r.stream ? 'complete' : null, r.tags,
      r.status, r.decision, r.blockedBy, limits, '[]', null, r.input, r.output, r.cached, r.reservedInput, r.reservedOutput, r.cost, r.inputCost,
      r.input > 0 ? 'provider' : 'none', r.latency, r.latency - 20,
    ];
    chunk.push(values.map(text).join('\t') + '\n');
    if (chunk.length === 10_000) await flush();
  }
  await flush();
  await new Promise((resolve, reject) => stream.end((err) => (err ? reject(err) : resolve())));
  await sql.unsafe('ANALYZE tollgate_ledger');
  await sql.end();
}

/** A config matching the rows: every key, route, model and limit kind (fixed, sliding, token bucket, money). */
function config() {
  const sha = (text) => createHash('sha256').update(text).digest('hex');
  const lines = [
    `server: {host: 127.0.0.1, port: ${args.port}, timezone: UTC, admin_key: "\${TOLLGATE_ADMIN_KEY}"}`,
    `storage: {counters: memory, ledger: "${args.ledger}"}`,
    'providers: {mock: {type: mock, latency_ms: 1}}',
    'pricing:',
    ...models.map((m) => `  "mock/${m.id}": {input: ${m.input.toFixed(2)}, output: ${m.output.toFixed(2)}}`),
    'organizations:',
    ...Array.from({ length: ORGS }, (_, o) => `  org${o}: {monthly_budget: {max_cost_usd: 100000}, daily_cap: 2000000000}`),
    'projects:',
    ...Array.from({ length: ORGS * PROJECTS_PER_ORG }, (_, p) => `  p${Math.floor(p / PROJECTS_PER_ORG)}-${p % PROJECTS_PER_ORG}: {daily_limit: 500000000, monthly_limit: 5000000000}`),
    'users:',
    '  premium: {daily_limit: {max_token: 5000000, algorithm: sliding_window}, rate_limit: 600}',
    '  standard: {daily_limit: 1000000, monthly_limit: {max_cost_usd: 500}, rate_limit: 120}',
    'groups:',
    ...Array.from({ length: 20 }, (_, g) => `  g${g}: {daily_limit: 100000000}`),
    'routes:',
    '  main:',
    '    chat_models:',
    ...models.filter((m) => m.endpoint === 'chat').map((m) => `      - {model_id: ${m.id}, model: mock/${m.id}}`),
    '    embedding_models:',
    ...models.filter((m) => m.endpoint === 'embeddings').map((m) => `      - {model_id: ${m.id}, model: mock/${m.id}}`),
    '    token_limiting:',
    '      scope: user',
    '      input: {algorithm: fixed_window, window_size: 1 hour, max_token: 5000000}',
    '      output: {algorithm: token_bucket, window_size: 1 hour, max_token: 2000000}',
    '      total: {algorithm: sliding_window, window_size: 1 day, max_token: 20000000}',
    'keys:',
    ...Array.from({ length: USERS }, (_, u) =>
      `  - {id: k${u}, key_sha256: ${sha(`tg-seed-${u}`)}, organization: org${orgOf(u)}, user: u${u}, tier: ${tierOf(u)}, project: ${projectOf(u)}, groups: [g${u % 20}]}`,
    ),
  ];
  return lines.join('\n') + '\n';
}
