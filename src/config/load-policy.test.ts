import { describe, expect, it } from 'vitest';
import { ConfigError, loadPolicyFromTexts } from './index.js';
import type { ConfigIssue } from './index.js';
import { sha256Hex } from './sha256.js';

function load(text: string, env: NodeJS.ProcessEnv = {}) {
  return loadPolicyFromTexts([{ file: 'tollgate.yaml', text }], env);
}

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  try {
    load(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

const ROUTE = `
routes:
  main:
    chat_models:
      - model_id: gpt-4o
        model: openai/gpt-4o
`;

describe('loadPolicy: defaults', () => {
  it('compiles an empty file to a working policy with built-in providers and one organization', () => {
    const policy = load('', { OPENAI_API_KEY: 'sk-test' });
    expect(policy.sources).toEqual(['tollgate.yaml']);
    expect(policy.server).toEqual({ host: '127.0.0.1', port: 4000, timezone: 'UTC', maxBodyBytes: 10_485_760 });
    expect(policy.storage).toEqual({
      counters: 'memory', ledger: 'sqlite:./data/tollgate.db', onStoreError: 'fail_closed', timeoutMs: 250, instances: 1, reservationTtlMs: 1_200_000,
    });
    expect(policy.enforcement).toEqual({ clampMaxTokens: true, defaultMaxTokens: 4096, minOutputTokens: 1 });
    expect([...policy.organizations.values()]).toEqual([{ id: 'default', limits: [] }]);
    expect(policy.providers.get('openai')).toEqual({
      name: 'openai', type: 'openai', baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-test', headers: {}, timeoutMs: 600_000,
    });
    expect(policy.providers.get('anthropic')).toEqual({
      name: 'anthropic', type: 'anthropic', baseUrl: 'https://api.anthropic.com', headers: {}, timeoutMs: 600_000,
    });
  });

  it('fills provider defaults by type and keeps mock settings', () => {
    const policy = load(`
providers:
  oai: {type: openai}
  local: {type: openai, base_url: "http://127.0.0.1:8000/v1", headers: {api-version: "2024-02-01"}, timeout_ms: 5000}
  demo: {type: mock}
`);
    expect(policy.providers.size).toBe(3); // An explicit section replaces the built-ins.
    expect(policy.providers.get('oai')).toMatchObject({ baseUrl: 'https://api.openai.com/v1', timeoutMs: 600_000 });
    expect(policy.providers.get('local')).toMatchObject({ baseUrl: 'http://127.0.0.1:8000/v1', headers: { 'api-version': '2024-02-01' }, timeoutMs: 5000 });
    expect(policy.providers.get('demo')).toEqual({ name: 'demo', type: 'mock', headers: {}, timeoutMs: 600_000, mock: { latencyMs: 0, outputTokens: 64 } });
  });

  it('compiles long-form limits, money limits and shadow mode', () => {
    const policy = load(`
organizations:
  acme: {monthly_budget: {max_cost_usd: 500, algorithm: sliding_window}}
  beta: {daily_cap: 1000}
projects:
  search:
    daily_limit: {max_token: 1000, mode: shadow}
    monthly_limit: 20000
groups:
  ml-team: {daily_limit: 5000, rate_limit: {max_requests: 20, algorithm: token_bucket}}
keys:
  - {id: k1, key: a-secret, organization: acme, project: search}
`);
    expect(policy.organizations.get('acme')!.limits).toEqual([
      { name: 'monthly', measure: 'total', algorithm: 'sliding_window', window: { kind: 'calendar', unit: 'month' }, maxCostUsd: 500, mode: 'enforce' },
    ]);
    expect(policy.projects.get('search')).toEqual({
      id: 'search',
      priority: 'low',
      limits: [
        { name: 'daily', measure: 'total', algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 1000, mode: 'shadow' },
        { name: 'monthly', measure: 'total', algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'month' }, max: 20000, mode: 'enforce' },
      ],
    });
    expect(policy.groups.get('ml-team')!.limits[1]).toEqual({
      name: 'rate', measure: 'requests', algorithm: 'token_bucket', window: { kind: 'duration', ms: 60_000 }, max: 20, mode: 'enforce',
    });
    expect(policy.keys[0]).toEqual({ id: 'k1', sha256: sha256Hex('a-secret'), organization: 'acme', project: 'search', groups: [] });
  });

  it('splits route models on the first slash and keeps chat before embedding models', () => {
    const policy = load(`
providers: {vllm: {type: openai, base_url: "http://gpu:8000/v1"}}
routes:
  local:
    embedding_models: [{model_id: embed, model: vllm/BAAI/bge-small}]
    chat_models: [{model_id: llama, model: vllm/meta-llama/Llama-3-8B}]
    token_limiting: {total: {algorithm: token_bucket, window_size: 1 month, max_cost_usd: 12.5}}
`);
    expect(policy.routes.get('local')).toEqual({
      name: 'local',
      models: [
        { modelId: 'llama', provider: 'vllm', upstreamModel: 'meta-llama/Llama-3-8B', kind: 'chat' },
        { modelId: 'embed', provider: 'vllm', upstreamModel: 'BAAI/bge-small', kind: 'embedding' },
      ],
      fallback: [],
      scope: 'route',
      limits: [{ name: 'total', measure: 'total', algorithm: 'token_bucket', window: { kind: 'calendar', unit: 'month' }, maxCostUsd: 12.5, mode: 'enforce' }],
    });
  });

  it('stores only hashes of keys and of the admin key', () => {
    const digest = 'AB'.repeat(32);
    const policy = load(`
server: {admin_key: "root-secret"}
keys:
  - {id: a, key: tg-alpha}
  - {id: b, key_sha256: "${digest}"}
`);
    expect(policy.server.adminKeySha256).toBe(sha256Hex('root-secret'));
    expect(policy.keys.map((k) => k.sha256)).toEqual([sha256Hex('tg-alpha'), digest.toLowerCase()]);
    expect(JSON.stringify(policy, (_k, v: unknown) => (v instanceof Map ? [...v] : v))).not.toMatch(/tg-alpha|root-secret/);
  });

  it('compiles the alert ladder, keeping the whole fallback chain', () => {
    const policy = load(`
alerts:
  - {threshold: 0.9, action: throttle}
  - {threshold: 1.0, action: block, fallback: [cache, model, error]}
`);
    expect(policy.alerts).toEqual([
      { threshold: 0.9, action: 'throttle', channels: [], reduction: 0.5 },
      { threshold: 1, action: 'block', channels: [], fallback: 'cache', fallbacks: ['cache', 'model', 'error'] },
    ]);
  });

  it('supports YAML anchors and merge keys', () => {
    const policy = load(`
projects:
  a: &base {daily_limit: 100, priority: high}
  b:
    <<: *base
    daily_limit: 200
`);
    expect(policy.projects.get('b')).toMatchObject({ priority: 'high', limits: [{ name: 'daily', max: 200 }] });
  });
});

describe('loadPolicy: environment variables', () => {
  it('substitutes values and defaults, reading unquoted numbers as numbers', () => {
    const policy = load('server: {host: "${HOST:-0.0.0.0}", port: ${PORT}, admin_key: ${ADMIN}}\n', { PORT: '8080', ADMIN: 'adm' });
    expect(policy.server).toMatchObject({ host: '0.0.0.0', port: 8080, adminKeySha256: sha256Hex('adm') });
  });

  it('keeps number-like secrets as text where the field is text', () => {
    const policy = load('keys:\n  - {id: a, key: ${A_KEY}}\nserver: {admin_key: ${ADMIN}, port: ${PORT}}\nenforcement: {clamp_max_tokens: ${CLAMP}}\n', {
      A_KEY: '123456', ADMIN: 'true', PORT: '0x1f', CLAMP: 'false',
    });
    expect(policy.keys[0]!.sha256).toBe(sha256Hex('123456'));
    expect(policy.server.adminKeySha256).toBe(sha256Hex('true'));
    expect(policy.server.port).toBe(31);
    expect(policy.enforcement.clampMaxTokens).toBe(false);
  });

  it('reads substituted numbers in limits, lists and merged anchors', () => {
    const policy = load('projects:\n  a: &base {daily_limit: ${LIMIT}}\n  b:\n    <<: *base\n    priority: high\nalerts:\n  - {threshold: ${T:-0.8}, action: warn}\n', { LIMIT: '500' });
    expect(policy.projects.get('a')!.limits[0]!.max).toBe(500);
    expect(policy.projects.get('b')!.limits[0]!.max).toBe(500);
    expect(policy.alerts[0]!.threshold).toBe(0.8);
  });

  it('treats `${VAR:-}` that is unset as an absent field', () => {
    const policy = load('providers:\n  openai: {type: openai, api_key: ${OPENAI_API_KEY:-}}\nserver:\n  admin_key: ${ADMIN:-}\n');
    expect(policy.providers.get('openai')!.apiKey).toBeUndefined();
    expect(policy.server.adminKeySha256).toBeUndefined();
  });

  it('names file and line of an unset variable without default', () => {
    const issues = issuesOf('server:\n  host: localhost\n  admin_key: ${TOLLGATE_ADMIN_KEY}\n');
    expect(issues).toEqual([
      expect.objectContaining({ file: 'tollgate.yaml', line: 3, path: 'server.admin_key', message: expect.stringContaining('TOLLGATE_ADMIN_KEY is not set') }),
    ]);
  });

  it('accepts SPEC §8 one-line sections with unquoted ${VAR} inside flow mappings', () => {
    const policy = load(
      'server:   {host: 127.0.0.1, port: 4000, admin_key: ${TOLLGATE_ADMIN_KEY}, timezone: UTC}\n' +
        'providers:\n  openai:    {type: openai, base_url: https://api.openai.com/v1, api_key: ${OPENAI_API_KEY}}\n' +
        '  demo: {type: mock, output_tokens: ${OUT:-32}}\n' +
        'keys: [{id: a, key: ${A_KEY:-tg-a,with-comma}}]\n',
      { TOLLGATE_ADMIN_KEY: 'adm', OPENAI_API_KEY: 'sk-1' },
    );
    expect(policy.server.adminKeySha256).toBe(sha256Hex('adm'));
    expect(policy.providers.get('openai')!.apiKey).toBe('sk-1');
    expect(policy.providers.get('demo')!.mock).toEqual({ latencyMs: 0, outputTokens: 32 });
    expect(policy.keys[0]!.sha256).toBe(sha256Hex('tg-a,with-comma'));
  });

  it('keeps a quoted number-like value a string, which then fails with the expected type', () => {
    const issues = issuesOf('server:\n  port: "${PORT}"\n', { PORT: '80' });
    expect(issues).toEqual([{ file: 'tollgate.yaml', line: 2, path: 'server.port', message: 'expected a number, got a string' }]);
  });
});

describe('loadPolicy: errors', () => {
  it('reports an unknown key with a suggestion and its own line', () => {
    const issues = issuesOf('projects:\n  production:\n    dialy_limit: 200000\n');
    expect(issues).toContainEqual({
      file: 'tollgate.yaml', line: 3, path: 'projects.production.dialy_limit', message: 'unknown key `dialy_limit` (did you mean `daily_limit`?)',
    });
    // The required field it was meant to be is reported at its parent's line.
    expect(issues).toContainEqual(expect.objectContaining({ line: 2, path: 'projects.production.daily_limit', message: expect.stringContaining('required') }));
  });

  it('suggests section names at the top level and lists choices when nothing is close', () => {
    expect(issuesOf('organisation: {daily_cap: 5}\n')[0]!.message).toBe('unknown key `organisation` (did you mean `organization`?)');
    expect(issuesOf('server: {zzzzzzzzzz: 1}\n')[0]!.message).toMatch(/^unknown key `zzzzzzzzzz` \(expected one of `host`, `port`/);
  });

  it('suggests inside the long form of a limit', () => {
    const issues = issuesOf('users:\n  t:\n    daily_limit:\n      max_tokens: 5\n');
    expect(issues).toContainEqual({ file: 'tollgate.yaml', line: 4, path: 'users.t.daily_limit.max_tokens', message: 'unknown key `max_tokens` (did you mean `max_token`?)' });
  });

  it('names the expected type', () => {
    const issues = issuesOf('server:\n  port: high\nenforcement:\n  clamp_max_tokens: "yes"\nprojects:\n  p: {daily_limit: lots}\n');
    expect(issues).toEqual([
      { file: 'tollgate.yaml', line: 2, path: 'server.port', message: 'expected a number, got a string' },
      { file: 'tollgate.yaml', line: 4, path: 'enforcement.clamp_max_tokens', message: 'expected `true` or `false`, got a string' },
      { file: 'tollgate.yaml', line: 6, path: 'projects.p.daily_limit', message: 'expected a number or a mapping, got a string' },
    ]);
  });

  it('explains enumerations and ranges', () => {
    const issues = issuesOf('alerts:\n  - threshold: 0\n    action: blok\n');
    expect(issues).toEqual([
      { file: 'tollgate.yaml', line: 2, path: 'alerts[0].threshold', message: 'must be greater than 0' },
      { file: 'tollgate.yaml', line: 3, path: 'alerts[0].action', message: '`blok` is not one of `warn`, `throttle`, `block` (did you mean `block`?)' },
    ]);
  });

  it('explains a misspelt keyword in a union of keyword and list', () => {
    const issues = issuesOf('alerts:\n  - {threshold: 1, action: block, fallback: cach}\n  - {threshold: 1, action: block, fallback: [cache, modle]}\n  - {threshold: 1, action: block, fallback: 3}\n');
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '2 alerts[0].fallback: `cach` is not one of `cache`, `model`, `error` (did you mean `cache`?)',
      '3 alerts[1].fallback[1]: `modle` is not one of `cache`, `model`, `error` (did you mean `model`?)',
      '4 alerts[2].fallback: expected `cache`, `model`, `error` or a list, got a whole number',
    ]);
  });

  it('rejects a bad window_size listing the accepted forms', () => {
    const issues = issuesOf(`${ROUTE}    token_limiting:\n      input: {algorithm: fixed_window, window_size: 10 mins, max_token: 5}\n`);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 8, path: 'routes.main.token_limiting.input.window_size' });
    expect(issues[0]!.message).toContain('`10 mins` is not a window size');
    expect(issues[0]!.message).toContain('`1 hour`');
    expect(issues[0]!.message).toContain('`1 month`');
  });

  it('rejects an unknown time zone', () => {
    expect(issuesOf('server:\n  timezone: Europe/Pariss\n')).toEqual([
      { file: 'tollgate.yaml', line: 2, path: 'server.timezone', message: '`Europe/Pariss` is not a time zone; use an IANA name such as `UTC` or `Europe/Paris`' },
    ]);
    expect(load('server: {timezone: Europe/Paris}').server.timezone).toBe('Europe/Paris');
  });

  it('checks storage URL forms without echoing them', () => {
    const issues = issuesOf('storage:\n  counters: "mysql://user:hunter2@db"\n  ledger: "mongodb://x"\n');
    expect(issues.map((i) => i.path)).toEqual(['storage.counters', 'storage.ledger']);
    expect(issues.map((i) => i.message).join('\n')).not.toContain('hunter2');
    expect(load('storage: {counters: "rediss://:pw@cache:6380", ledger: "postgresql://u@db/tollgate"}').storage.counters).toBe('rediss://:pw@cache:6380');
  });

  it('reads the shared-counter settings and per-limit on_store_error', () => {
    const policy = load(`
storage: {counters: "redis-cluster://:pw@a:7000,b:7001", on_store_error: fail_open, timeout_ms: 100, instances: 3}
providers: {up: {type: openai, timeout_ms: 900000}}
projects:
  p: {daily_limit: {max_token: 10, on_store_error: fail_closed}}
users:
  t: {rate_limit: {max_requests: 5, on_store_error: fail_open}}
routes:
  r:
    chat_models: [{model_id: m, model: up/m}]
    token_limiting: {input: {algorithm: fixed_window, window_size: 1 hour, max_token: 5, on_store_error: fail_open}}
`);
    expect(policy.storage).toEqual({
      counters: 'redis-cluster://:pw@a:7000,b:7001', ledger: 'sqlite:./data/tollgate.db', onStoreError: 'fail_open', timeoutMs: 100, instances: 3, reservationTtlMs: 1_800_000,
    });
    expect(policy.projects.get('p')!.limits[0].onStoreError).toBe('fail_closed');
    expect(policy.tiers.get('t')!.limits[0].onStoreError).toBe('fail_open');
    expect(policy.routes.get('r')!.limits[0].onStoreError).toBe('fail_open');
    expect(load('storage: {reservation_ttl_ms: 60000}').storage.reservationTtlMs).toBe(60_000);
    expect(issuesOf('storage: {instances: 0, timeout_ms: 0}').map((i) => i.path)).toEqual(['storage.timeout_ms', 'storage.instances']);
  });

  it('reports YAML syntax errors with their line, without quoting the source', () => {
    const issues = issuesOf('keys:\n  - id: a\n    key: tg-secret: oops\n');
    expect(issues).toEqual([expect.objectContaining({ file: 'tollgate.yaml', line: 3, message: expect.stringMatching(/^YAML syntax error/) })]);
    expect(issues[0]!.message).not.toContain('tg-secret');
  });

  it('rejects both organization forms at once', () => {
    const issues = issuesOf('organization: {daily_cap: 1}\norganizations:\n  a: {daily_cap: 1}\n');
    expect(issues).toEqual([expect.objectContaining({ line: 2, path: 'organizations', message: expect.stringContaining('not both') })]);
  });

  it('checks references from keys and routes', () => {
    const issues = issuesOf(`
organizations:
  acme: {}
  beta: {}
projects:
  production: {daily_limit: 5}
users:
  tier_premium: {}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: opnai/gpt-4o}]
    fallback: [gpt4o]
keys:
  - {id: a, key: s1, user: u, tier: tier_premum, project: prod, routes: [mian], organization: acme}
  - {id: b, key: s2}
  - {id: a, key: s1, organization: betta}
`);
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '12 routes.main.fallback[0]: `gpt4o` is not a model_id of this route (did you mean `gpt-4o`?)',
    ]);
  });

  it('checks references once each section is valid', () => {
    const issues = issuesOf(`
organizations:
  acme: {}
  beta: {}
projects:
  production: {daily_limit: 5}
users:
  tier_premium: {}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: opnai/gpt-4o}]
keys:
  - {id: a, key: s1, user: u, tier: tier_premum, project: prod, routes: [mian], organization: acme}
  - {id: b, key: s2}
  - {id: a, key: s1, organization: betta}
`);
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '11 routes.main.chat_models[0].model: unknown provider `opnai` (did you mean `openai`?); declare it under `providers`',
      '13 keys[0].tier: unknown tier `tier_premum` (did you mean `tier_premium`?); tiers are declared under `users`',
      '13 keys[0].project: unknown project `prod` (expected one of `production`)',
      '13 keys[0].routes[0]: unknown route `mian` (did you mean `main`?)',
      '14 keys[1]: `organization` is required when there are several organizations (`acme`, `beta`)',
      '15 keys[2].id: duplicate key id `a` (also keys[0])',
      '15 keys[2].key: the same secret is already used by key `a`',
      '15 keys[2].organization: unknown organization `betta` (did you mean `beta`?)',
    ]);
  });

  it('never shows a key secret in an error', () => {
    const secret = 'tg-live-very-secret-value';
    const texts = [
      `keys:\n  - {id: a, key: ${secret}, key_sha256: nothex}\n`,
      `keys:\n  - {id: a, key: ${secret}}\n  - {id: b, key: ${secret}}\n`,
      `keys:\n  - {id: a, key: ${secret}, tier: t}\n`,
      `keys:\n  - id: a\n    key: ${secret}: x\n`,
      'keys:\n  - {id: a, key: ${SECRET}, project: nope}\n',
      'server: {admin_key: ${SECRET}, port: x}\n',
      'keys:\n  - {id: "bad id", key: ${SECRET}}\n',
    ];
    for (const text of texts) {
      let message = '';
      try {
        load(text, { SECRET: secret });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain(secret);
    }
  });

  it('limits mock-only fields, alert options and names', () => {
    const issues = issuesOf(`
providers:
  oai: {type: openai, latency_ms: 5}
alerts:
  - {threshold: 0.5, action: warn, fallback: cache}
  - {threshold: 1, action: block, fallback: [error, cache]}
projects:
  "bad:name": {daily_limit: 1}
`);
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '3 providers.oai.latency_ms: `latency_ms` applies only to providers of type mock',
      '5 alerts[0].fallback: `fallback` applies only to `action: block`',
      '6 alerts[1].fallback: `error` must be the last fallback',
      '8 projects["bad:name"]: names may only use letters, digits and `_ . @ + -` (no spaces, `:`, `/`, `{` or `}`)',
    ]);
  });

  it('requires at least one model per route and unique model_ids', () => {
    const issues = issuesOf(`
routes:
  empty: {}
  twice:
    chat_models: [{model_id: m, model: openai/a}]
    embedding_models: [{model_id: m, model: openai/b}]
`);
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '3 routes.empty: a route needs at least one model in `chat_models` or `embedding_models`',
      '6 routes.twice.embedding_models[0].model_id: model_id `m` appears twice in this route',
    ]);
  });

  it('rejects a file that is not a mapping', () => {
    expect(issuesOf('- a\n- b\n')).toEqual([expect.objectContaining({ line: 1, message: expect.stringContaining('must be a mapping') })]);
  });

  it('formats the error message one issue per line', () => {
    try {
      load('server:\n  port: x\n  hots: a\n');
      expect.fail('should throw');
    } catch (err) {
      expect((err as Error).message).toBe(
        'tollgate.yaml:2: server.port: expected a number, got a string\n' +
          'tollgate.yaml:3: server.hots: unknown key `hots` (did you mean `host`?)',
      );
    }
  });
});
