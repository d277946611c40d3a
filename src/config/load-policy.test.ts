import { describe, expect, it } from 'vitest';
import { issuesOf, load, ROUTE } from '../../test/helpers/config-texts.js';
import { ConfigError, loadPolicyFromTexts, type ConfigIssue } from './index.js';
import { sha256Hex } from './sha256.js';

describe('loadPolicy: defaults', () => {
  it('compiles an empty mapping to a working policy with built-in providers and one organization', () => {
    const policy = load('{}', { OPENAI_API_KEY: 'sk-test' });
    expect(policy.sources).toEqual(['tollgate.yaml']);
    expect(policy.server).toEqual({ host: '127.0.0.1', port: 4000, timezone: 'UTC', maxBodyBytes: undefined, drainDelayMs: 0, drainTimeoutMs: 30_000, corsOrigins: [] });
    expect(policy.storage).toEqual({
      counters: 'memory', ledger: 'sqlite:./data/tollgate.db', onStoreError: 'fail_closed', timeoutMs: 250, rebuildWaitMs: 2000, instances: 1, reservationTtlMs: 1_200_000, reservationTtlFromTimeouts: true, leaseMs: 0, keyRefreshMs: 5000,
    });
    expect(policy.enforcement).toEqual({ clampMaxTokens: true, defaultMaxTokens: 4096, reasoningDefaultMaxTokens: 25_000, minOutputTokens: 1, storedContextTokens: 128_000 });
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

  it('hashes keys as `printf <key> | sha256sum` does, so key_sha256 values can be made with it', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('clé✓')).toBe('bad36631ce6b1d70629847963a450e4e9a1e1c20afefe807e3ce2301d8cbcac7');
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
    expect(issues).toEqual([{ file: 'tollgate.yaml', line: 2, path: 'server.port', message: 'expected a number, got a string (a number in quotes is text: write it without quotes)' }]);
  });
});

// `tollgate usage` and `tollgate audit` on a bastion: the config names provider and client secrets the
// operator does not have, and the report reads none of them.
describe('loadPolicy for a report command (`needs`)', () => {
  const REPORT = ['storage.ledger', 'server.timezone'];
  const SECRETS = `server: {timezone: America/New_York, admin_key: \${ADMIN_KEY}}
storage: {ledger: "sqlite:\${LEDGER_DIR}/ledger.db"}
providers:
  openai: {type: openai, api_key: \${OPENAI_API_KEY}}
${ROUTE}
keys:
  - {id: alice, key: \${ALICE_KEY}}
`;
  const reportIssues = (texts: Array<{ file: string; text: string }>, env: NodeJS.ProcessEnv): ConfigIssue[] => {
    try {
      loadPolicyFromTexts(texts, env, { needs: REPORT });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).issues;
    }
    throw new Error('expected a ConfigError');
  };

  it('needs only the variables of the fields it reads', () => {
    const policy = loadPolicyFromTexts([{ file: 'tollgate.yaml', text: SECRETS }], { LEDGER_DIR: '/var/lib/tollgate' }, { needs: REPORT });
    expect(policy.storage.ledger).toBe('sqlite:/var/lib/tollgate/ledger.db');
    expect(policy.server.timezone).toBe('America/New_York');
    // Serving the same config still needs every one of them.
    expect(issuesOf(SECRETS, { LEDGER_DIR: '/var/lib/tollgate' }).map((i) => i.path)).toEqual(['server.admin_key', 'providers.openai.api_key', 'keys[0].key']);
  });

  it('names file, line, field and variable when a field it reads holds an unset one, even inside a valid-looking value', () => {
    expect(reportIssues([{ file: 'tollgate.yaml', text: SECRETS }], {})).toEqual([
      { file: 'tollgate.yaml', line: 2, path: 'storage.ledger', message: expect.stringMatching(/^environment variable LEDGER_DIR is not set/) },
    ]);
    // Checked after merging: a later file that sets the field makes the variable unneeded.
    const override = { file: 'local.yaml', text: 'storage: {ledger: "sqlite:./ledger.db"}\n' };
    expect(loadPolicyFromTexts([{ file: 'tollgate.yaml', text: SECRETS }, override], {}, { needs: REPORT }).storage.ledger).toBe('sqlite:./ledger.db');
  });

  it('still refuses, with the unset variable, a field that cannot be valid without it', () => {
    const text = `server: {port: \${PORT}}
providers:
  openai: {type: openai, base_url: \${OPENAI_BASE_URL}}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: "\${VENDOR}/gpt-4o"}]
`;
    // A number and a URL are refused by the schema; the route's provider then by the cross-check.
    expect(reportIssues([{ file: 'tollgate.yaml', text }], {}).map((i) => [i.line, i.path, i.message.replace(/ \(write .*/, '')])).toEqual([
      [1, 'server.port', 'environment variable PORT is not set'],
      [3, 'providers.openai.base_url', 'environment variable OPENAI_BASE_URL is not set'],
    ]);
    expect(reportIssues([{ file: 'tollgate.yaml', text }], { PORT: '4000', OPENAI_BASE_URL: 'https://llm.internal/v1' })).toEqual([
      { file: 'tollgate.yaml', line: 6, path: 'routes.main.chat_models[0].model', message: expect.stringMatching(/^environment variable VENDOR is not set/) },
    ]);
    // Other problems are reported as ever.
    expect(reportIssues([{ file: 'tollgate.yaml', text: 'server: {prot: 4000, admin_key: ${ADMIN_KEY}}\n' }], {}).map((i) => i.message)).toEqual([
      'unknown key `prot` (did you mean `port`?)',
    ]);
  });
});
