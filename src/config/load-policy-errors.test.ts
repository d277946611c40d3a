// loadPolicy's errors: each names the file, the line and the field, and suggests what was meant.
import { describe, expect, it } from 'vitest';
import { issuesOf, load, ROUTE } from '../../test/helpers/config-texts.js';
import { sha256Hex } from './sha256.js';

/** Keys and a route whose references are all wrong; `routeExtra` adds lines to the route. */
const brokenReferences = (routeExtra = ''): string => `
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
${routeExtra}keys:
  - {id: a, key: s1, user: u, tier: tier_premum, project: prod, routes: [mian], organization: acme}
  - {id: b, key: s2}
  - {id: a, key: s1, organization: betta}
`;

describe('loadPolicy: errors', () => {
  it('reports an unknown key with a suggestion and its own line', () => {
    const issues = issuesOf('projects:\n  production:\n    dialy_limit: 200000\n');
    expect(issues).toContainEqual({
      file: 'tollgate.yaml', line: 3, path: 'projects.production.dialy_limit', message: 'unknown key `dialy_limit` (did you mean `daily_limit`?)',
    });
    // The required field it was meant to be is reported at its parent's line.
    expect(issues).toContainEqual(expect.objectContaining({ line: 2, path: 'projects.production.daily_limit', message: expect.stringContaining('required') }));
  });

  it('reads a lone carriage return as a line end, as YAML 1.2 does (an old Mac editor\'s files), lines counted by it', () => {
    const lf = 'projects:\n  production:\n    daily_limit: 200000\n    request_limit: 40\n';
    expect(load(lf.replace(/\n/g, '\r')).projects.get('production')).toEqual(load(lf).projects.get('production'));
    // Before: "line 1: YAML syntax error: Nested mappings are not allowed in compact mappings".
    expect(issuesOf('projects:\r  production:\r    dialy_limit: 200000\r')).toContainEqual({
      file: 'tollgate.yaml', line: 3, path: 'projects.production.dialy_limit', message: 'unknown key `dialy_limit` (did you mean `daily_limit`?)',
    });
    // Mixed with CRLF ends in one file.
    expect(issuesOf('projects:\r\n  production:\r    dialy_limit: 200000\r\n')).toContainEqual(expect.objectContaining({ line: 3, path: 'projects.production.dialy_limit' }));
  });

  it('refuses credentials written into a base_url, which would never be sent', () => {
    expect(issuesOf('providers:\n  vllm:\n    type: openai\n    base_url: "https://bot:hunter2@gpu.internal/v1"\n')).toContainEqual({
      file: 'tollgate.yaml', line: 4, path: 'providers.vllm.base_url',
      message: 'credentials in the URL (user:password@) are not sent upstream: use `api_key`, or `headers` (e.g. `authorization: Basic ...`)',
    });
    expect(load('providers:\n  vllm: {type: openai, base_url: "https://gpu.internal/v1?api-version=1"}\n').providers.get('vllm')?.baseUrl).toBe('https://gpu.internal/v1?api-version=1');
  });

  it('reports a default_max_tokens of 0 once, and not as a min_output_tokens above it that was never written', () => {
    expect(issuesOf('enforcement: {default_max_tokens: 0}\n')).toEqual([
      { file: 'tollgate.yaml', line: 1, path: 'enforcement.default_max_tokens', message: 'must be greater than 0' },
    ]);
  });

  it('refuses port 0 in a base_url, as in the storage URLs: every call would fail to connect', () => {
    expect(issuesOf('providers:\n  vllm:\n    type: openai\n    base_url: "http://gpu.internal:0/v1"\n')).toContainEqual({
      file: 'tollgate.yaml', line: 4, path: 'providers.vllm.base_url', message: 'port 0 is not a port to connect to; use 1 to 65535',
    });
  });

  // Regression tests from an audit: a missing enumeration read "got undefined", and a project named
  // `__proto__` vanished without a word (`check` counted 1 project of 2).
  it('names a missing enumeration as missing, and refuses the reserved name `__proto__`', () => {
    expect(issuesOf(`${ROUTE}    token_limiting: {output: {window_size: 1 hour, max_token: 10}}\n`)).toContainEqual(
      expect.objectContaining({ path: 'routes.main.token_limiting.output.algorithm', message: 'required field is missing (one of `fixed_window`, `sliding_window`, `token_bucket`)' }),
    );
    expect(issuesOf('projects:\n  ok: {daily_limit: 10}\n  __proto__: {daily_limit: 100}\n')).toEqual([
      { file: 'tollgate.yaml', line: 3, path: 'projects.__proto__', message: '`__proto__` is reserved; choose another name' },
    ]);
  });

  it('never repeats a value an environment variable put in the wrong field (it may be a secret)', () => {
    const secret = 'tg-SECRET-alice-7f3a9';
    const issues = issuesOf('server: {timezone: "${TZ_NAME}"}\nstorage: {on_store_error: ${MODE}}\n', { TZ_NAME: secret, MODE: secret });
    expect(issues.map((i) => i.path).sort()).toEqual(['server.timezone', 'storage.on_store_error']);
    for (const issue of issues) {
      expect(issue.message).not.toContain('SECRET');
      expect(issue.message).toContain('<a value from the environment>');
    }
    // A value written in the file is still shown, with its suggestion.
    expect(issuesOf('storage: {on_store_error: fail_opn}\n')[0]!.message).toContain('`fail_opn` is not one of');
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
      { file: 'tollgate.yaml', line: 4, path: 'enforcement.clamp_max_tokens', message: 'expected `true` or `false`, got `yes`, which YAML reads as text: write `true`' },
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

  it('rejects a server.host that cannot be a host name or address, without waiting for serve to fail', () => {
    expect(issuesOf('server:\n  host: "not a host!"\n')).toEqual([
      { file: 'tollgate.yaml', line: 2, path: 'server.host', message: 'expected a host name or an IP address, such as `127.0.0.1`, `0.0.0.0`, `::` or `localhost`' },
    ]);
    for (const host of ['0.0.0.0', '::', '::1', 'localhost', 'gateway.internal', 'my_service', 'gw-1.example.com.']) {
      expect(load(`server: {host: "${host}"}\n`).server.host).toBe(host);
    }
  });

  it('rejects an unknown time zone', () => {
    expect(issuesOf('server:\n  timezone: Europe/Pariss\n')).toEqual([
      { file: 'tollgate.yaml', line: 2, path: 'server.timezone', message: '`Europe/Pariss` is not a time zone (did you mean `Europe/Paris`?); use an IANA name such as `UTC` or `Europe/Paris`' },
    ]);
    expect(load('server: {timezone: Europe/Paris}').server.timezone).toBe('Europe/Paris');
  });

  it('checks storage URL forms without echoing them', () => {
    const issues = issuesOf('storage:\n  counters: "mysql://user:hunter2@db"\n  ledger: "mongodb://x"\n');
    expect(issues.map((i) => i.path)).toEqual(['storage.counters', 'storage.ledger']);
    expect(issues.map((i) => i.message).join('\n')).not.toContain('hunter2');
    expect(load('storage: {counters: "rediss://:pw@cache:6380", ledger: "postgresql://u@db/tollgate"}').storage.counters).toBe('rediss://:pw@cache:6380');
  });

  it('checks the URL behind a right scheme (port, host, database, cluster nodes), still without echoing it', () => {
    const problems = (counters: string, ledger = 'sqlite:./x.db'): string[] =>
      issuesOf(`storage:\n  counters: "${counters}"\n  ledger: "${ledger}"\n`).map((i) => `${i.path}: ${i.message}`);
    const bad = [
      problems('redis://user:Sup3rSecret@127.0.0.1:99999/12'),
      problems('redis://user:Sup3rSecret@127.0.0.1:0'),
      problems('redis://127.0.0.1:6379/cache'),
      problems('redis-cluster://:Sup3rSecret@10.0.0.1:7000,10.0.0.2:70000'),
      problems('memory', 'postgres://u:Sup3rSecret@db:99999/tollgate'),
    ];
    expect(bad.map((p) => p.length)).toEqual([1, 1, 1, 1, 1]);
    expect(bad[0][0]).toMatch(/^storage\.counters: is not a valid URL: check the host and the port \(1 to 65535\)/);
    expect(bad[1][0]).toMatch(/port 0/);
    expect(bad[2][0]).toMatch(/database after the port must be a number/);
    expect(bad[3][0]).toMatch(/cluster node's port must be a number from 1 to 65535/);
    expect(bad[4][0]).toMatch(/^storage\.ledger: is not a valid URL/);
    expect(bad.flat().join('\n')).not.toContain('Sup3rSecret');
    const fine = load('storage: {counters: "redis-cluster://10.0.0.1:7000,10.0.0.2:7001", ledger: "postgres://u:p%40ss@db:5432/tollgate"}').storage;
    expect(fine.counters).toBe('redis-cluster://10.0.0.1:7000,10.0.0.2:7001');
  });

  it('reads the shared-counter settings and per-limit on_store_error', () => {
    const policy = load(`
storage: {counters: "redis-cluster://:pw@a:7000,b:7001", on_store_error: fail_open, timeout_ms: 100, instances: 3, lease_ms: 1000}
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
      counters: 'redis-cluster://:pw@a:7000,b:7001', ledger: 'sqlite:./data/tollgate.db', onStoreError: 'fail_open', timeoutMs: 100, rebuildWaitMs: 2000, instances: 3, reservationTtlMs: 1_800_000, reservationTtlFromTimeouts: true, leaseMs: 1000, keyRefreshMs: 5000,
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

  // Regression (QA): an unclosed quote was reported past the last line of the file (the end of what it
  // swallowed), and a line indented too deep at the line before it.
  it('reports an unclosed quote or bracket at the line it opens, and a line indented too deep at that line', () => {
    const linesOf = (text: string): number[] => issuesOf(text).map((i) => i.line);
    expect(issuesOf('server:\n  host: "127.0.0.1\n  port: 4000\nkeys:\n  - {id: a, key: tg-x}\n')).toEqual([
      { file: 'tollgate.yaml', line: 2, path: '', message: 'YAML syntax error: Missing closing "quote' },
    ]);
    expect(linesOf("server:\n  timezone: 'UTC\n")).toEqual([2]);
    expect(linesOf('server: {port: 4000}\nprojects:\n  p: {daily_limit: 1\n')).toEqual([3]);
    expect(linesOf('server: {port: 4000}\nkeys: [{id: a, key: tg-x}\nprojects: {}\n')).toEqual([2]);
    expect(issuesOf('server:\n  host: 127.0.0.1\n   port: 4000\n')).toEqual([
      {
        file: 'tollgate.yaml', line: 3, path: '',
        message: 'YAML syntax error: the key begun on line 2 runs on to this line (a key must be on one line): is this line indented too deep, or is a `:` missing on line 2?',
      },
    ]);
    expect(linesOf('keys:\n  - id: a\n\n     key: tg-x\n')).toEqual([4]);
    // Reported by the library at the comment above the line.
    expect(linesOf('server:\n  host: 127.0.0.1\n  # the port\n port: 4000\n')).toEqual([4]);
  });

  // Regression (QA): the message was the library's advice to its programmers (`use YAML.parseAllDocuments()`).
  it('says that a file holds one YAML document, at the line the second one starts', () => {
    const message = 'a config file holds one YAML document, but a second one starts here: move it to a file of its own (files given with several --config are merged)';
    expect(issuesOf('a: 1\n---\nb: 2\n')).toEqual([{ file: 'tollgate.yaml', line: 2, path: '', message }]);
    expect(issuesOf('---\nserver: {port: 1}\n\n---\nkeys: []\n')).toEqual([{ file: 'tollgate.yaml', line: 4, path: '', message }]);
  });

  it('names a repeated key by its field and both lines', () => {
    const issues = issuesOf('projects:\n  web:\n    daily_limit: 5\n    priority: high\n    daily_limit: 6\nkeys:\n  - {id: a, key: s, id: b}\n');
    expect(issues).toEqual([
      { file: 'tollgate.yaml', line: 5, path: 'projects.web.daily_limit', message: 'duplicate key `daily_limit` (first written at line 3): keep one' },
      { file: 'tollgate.yaml', line: 7, path: 'keys[0].id', message: 'duplicate key `id` (first written at line 7): keep one' },
    ]);
  });

  it('rejects both organization forms at once', () => {
    const issues = issuesOf('organization: {daily_cap: 1}\norganizations:\n  a: {daily_cap: 1}\n');
    expect(issues).toEqual([expect.objectContaining({ line: 2, path: 'organizations', message: expect.stringContaining('not both') })]);
  });

  it('checks references from keys and routes', () => {
    const issues = issuesOf(brokenReferences('    fallback: [gpt4o]\n'));
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '12 routes.main.fallback[0]: `gpt4o` is not a model_id of this route (did you mean `gpt-4o`?)',
    ]);
  });

  it('checks references once each section is valid', () => {
    const issues = issuesOf(brokenReferences());
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '11 routes.main.chat_models[0].model: unknown provider `opnai` (did you mean `openai`?); declare it under `providers`',
      '13 keys[0].tier: unknown tier `tier_premum` (did you mean `tier_premium`?); tiers are declared under `users`',
      '13 keys[0].project: unknown project `prod` (expected one of `production`)',
      '13 keys[0].routes[0]: unknown route `mian` (did you mean `main`?)',
      '14 keys[1]: `organization` is required when there are several organizations (`acme`, `beta`)',
      '15 keys[2].id: duplicate key id `a` (also keys[0], at tollgate.yaml:13)',
      '15 keys[2].key: the same secret is already used by key `a` (keys[0], at tollgate.yaml:13)',
      '15 keys[2].organization: unknown organization `betta` (did you mean `beta`?)',
    ]);
  });

  // Regression (QA): a tenant key equal to the admin key read the admin dashboard, and `check` said nothing.
  it('refuses a key whose secret is the admin key or the metrics token, and a metrics token that is the admin key', () => {
    const scrapeSha256 = sha256Hex('tg-scrape').toUpperCase();
    const text = `server: {admin_key: tg-same}\nmetrics: {bearer_token: tg-scrape}\nkeys:\n  - {id: tenant, key: tg-same}\n  - {id: scraper, key_sha256: ${scrapeSha256}}\n`;
    expect(issuesOf(text)).toEqual([
      { file: 'tollgate.yaml', line: 4, path: 'keys[0].key', message: 'the same secret is already used by `server.admin_key`' },
      { file: 'tollgate.yaml', line: 5, path: 'keys[1].key_sha256', message: 'the same secret is already used by `metrics.bearer_token`' },
    ]);
    expect(issuesOf('server: {admin_key: tg-same}\nmetrics:\n  bearer_token: tg-same\n')).toEqual([
      { file: 'tollgate.yaml', line: 3, path: 'metrics.bearer_token', message: 'the same secret is already used by `server.admin_key`' },
    ]);
  });

  // Regression (QA): `admin_key: " "` was accepted, and the admin API could never be opened.
  it('refuses a secret that is blank or edged with white space: the gateway trims what it is sent', () => {
    const issues = issuesOf('server: {admin_key: "  "}\nmetrics: {bearer_token: "scrape "}\nkeys:\n  - {id: a, key: "\\t"}\n');
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '1 server.admin_key: is only white space, which no request can carry (the gateway trims the key it is sent)',
      '2 metrics.bearer_token: starts or ends with white space, which no request can carry (the gateway trims the key it is sent)',
      '4 keys[0].key: is only white space, which no request can carry (the gateway trims the key it is sent)',
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
      'server: {admin_key: ${SECRET}}\nkeys:\n  - {id: a, key: ${SECRET}}\n',
      'keys:\n  - {id: a, key: " ${SECRET}"}\n',
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

  it('refuses an empty or comment-only file at its line 1: applied on a reload, it would drop every key', () => {
    for (const text of ['', '\n\n', '# everything commented out\n# keys: ...\n', '---\n']) {
      expect(issuesOf(text)).toEqual([
        { file: 'tollgate.yaml', line: 1, path: '', message: 'the file is empty (or only comments); write `{}` to run on the defaults' },
      ]);
    }
    // An explicit empty mapping is a deliberate choice, and still runs on the defaults.
    expect(load('{}\n').keys).toEqual([]);
  });

  it('refuses a nested `${...}` at its line, naming the field, instead of reading the inner one literally', () => {
    const message = 'nested `${...}` is not supported in `${AUDIT_A:-${AUDIT_B}}`: a default is plain text';
    expect(issuesOf('server:\n  admin_key: ${AUDIT_A:-${AUDIT_B}}\n')).toEqual([{ file: 'tollgate.yaml', line: 2, path: 'server.admin_key', message }]);
    // Inside a one-line mapping too, where the inner `}` would otherwise end the mapping.
    expect(issuesOf('projects: {p: {daily_limit: 5}}\nserver: {admin_key: ${AUDIT_A:-${AUDIT_B}}}\n')).toEqual([
      { file: 'tollgate.yaml', line: 2, path: 'server.admin_key', message },
    ]);
    // Set variables change nothing: the expression is refused whatever the environment.
    expect(issuesOf('server:\n  admin_key: ${AUDIT_A:-${AUDIT_B}}\n', { AUDIT_A: 'a', AUDIT_B: 'b' })).toHaveLength(1);
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

describe('loadPolicy: USD limits need prices', () => {
  const config = (pricing: string, keyExtra = '', routeLimit = ''): string => `
groups: {g: {daily_limit: {max_cost_usd: 5}}}
providers: {up: {type: mock}}
routes:
  r:
    chat_models: [{model_id: a, model: up/a}, {model_id: b, model: up/b}]
${routeLimit}  free:
    chat_models: [{model_id: c, model: up/c}]
keys:
  - {id: k, key: s1${keyExtra}}
${pricing}`;

  it('names each route model a USD limit covers without a price, at its own line', () => {
    const issues = issuesOf(config('pricing: {"up/a": {input: 1, output: 2}}', ', groups: [g]'));
    expect(issues).toEqual([
      {
        file: 'tollgate.yaml',
        line: 6,
        path: 'routes.r.chat_models[1].model',
        message: expect.stringMatching(/^no price for `up\/b` under `pricing`, but the USD limit `group:g:daily` covers it \(key `k`\): every call would fail with model_unpriced/),
      },
      expect.objectContaining({ line: 8, path: 'routes.free.chat_models[0].model', message: expect.stringContaining('`up/c`') }),
    ]);
  });

  it('a route USD limit covers only its own models, and keys outside USD limits need no prices', () => {
    expect(() => load(config(''))).not.toThrow();
    const routeLimit = '    token_limiting: {input: {algorithm: fixed_window, window_size: 1 day, max_cost_usd: 1}}\n';
    const issues = issuesOf(config('', '', routeLimit));
    expect(issues.map((i) => i.path)).toEqual(['routes.r.chat_models[0].model', 'routes.r.chat_models[1].model']);
    expect(issues[0]!.message).toContain('USD limit `route:r:input`');
  });
});
