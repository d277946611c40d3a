// QA review s39, configuration: configs `tollgate check` accepted although they were not valid. `serve`
// refused them at start with a line that named no file or line, or started and then failed every call with
// a 502. SPEC §8 says `check` exits 0 for a valid config and exits non-zero, with `file:line: message`,
// otherwise. Each `expected`/`actual` below is as found; the tests hold the fixed behaviour. The last
// describe records what held.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { issuesOfFiles } from './helpers/config-texts.js';
import { CLI, writeConfig } from './helpers/processes.js';

describe('a store URL whose user name or password holds a malformed %-escape', () => {
  // A generated password containing `%` and written raw (`p4ss%zz`). Sentinel URLs are checked for this
  // (sentinel-url.ts: "holds a malformed %-escape; ..."). The others are not. At start, ioredis and the
  // postgres driver call decodeURIComponent on the user name and password, and serve exits 1.
  //   expected: check refuses each with `tollgate.yaml:2: storage.counters|storage.ledger: holds a malformed %-escape; ...`
  //   actual:   check exits 0 (`ok: 1 file, ...`). serve exits 1 with a line that names no file or line:
  //             `storage.counters: cannot use redis://:***@127.0.0.1:6379: URI malformed`
  //             (`storage.ledger: cannot open postgres://postgres:***@127.0.0.1:5432/test: URI malformed`).
  // Suspected cause: src/config/gateway-schemas.ts storeUrlProblem checks %-escapes only on the sentinel
  // branch (parseSentinelUrl), not for redis[s]://, redis[s]-cluster:// or postgres[ql]://.
  it('is refused by check at its line, for redis://, redis-cluster:// and postgres:// alike', () => {
    for (const [field, url] of [
      ['counters', 'redis://:p4ss%zzword@127.0.0.1:6379'],
      ['counters', 'redis://us%zzer:pw@127.0.0.1:6379/0'],
      ['counters', 'redis-cluster://:p4ss%zz@127.0.0.1:7000,127.0.0.1:7001'],
      ['ledger', 'postgres://postgres:p4ss%zz@127.0.0.1:5432/test'],
    ] as const) {
      const issues = issuesOfFiles([['tollgate.yaml', `storage:\n  ${field}: "${url}"\n`]]);
      expect(issues, url).toEqual([expect.objectContaining({ file: 'tollgate.yaml', line: 2, path: `storage.${field}` })]);
      expect(issues[0]!.message).toMatch(/%-escape/);
      expect(issues[0]!.message).not.toContain('p4ss');
    }
  });

  it('is refused by serve as check refuses it: at its line, without the password (before: "URI malformed", no line)', () => {
    const file = writeConfig('storage:\n  counters: "redis://:p4ss%zzword@127.0.0.1:6379"\n');
    const serve = spawnSync(process.execPath, [CLI, 'serve', '--config', file, '--port', '0'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, TOLLGATE_LOG_LEVEL: 'warn' },
    });
    expect(serve.status).toBe(1);
    expect(serve.stderr).toContain(`${file}:2`);
    expect(serve.stderr).toContain('malformed %-escape');
    expect(serve.stderr).not.toContain('p4ss');
  });

  it('holds for sentinel URLs: refused at check, at the line, without the password', () => {
    const issues = issuesOfFiles([['tollgate.yaml', 'storage:\n  counters: "redis-sentinel://:p4ss%zz@127.0.0.1:26379/mymaster"\n']]);
    expect(issues).toEqual([expect.objectContaining({ line: 2, path: 'storage.counters' })]);
    expect(issues[0]!.message).toContain('malformed %-escape');
    expect(issues[0]!.message).not.toContain('p4ss');
  });
});

describe('a PostgreSQL ledger URL whose TLS settings serve refuses from the text alone', () => {
  // docs/configuration.md, storage.ledger: TLS is `?sslmode=` `require`, `verify-ca` or `verify-full`, and
  // "`sslmode=disable` with certificate files is refused". Both are faults in the URL's text, which check
  // has in hand. Today only the start-up finds them.
  //   expected: check refuses both, `tollgate.yaml:2: storage.ledger: ...`, naming the sslmode values it takes
  //   actual:   check exits 0. serve exits 1 with
  //             `storage.ledger: cannot open postgres://...?sslmode=bogus: Client network socket disconnected before
  //             secure TLS connection was established` (the bogus mode is read as "use TLS") and
  //             `storage.ledger: cannot open ...: sslmode=disable with sslrootcert: remove the certificate files ...`
  // Suspected cause: src/config/gateway-schemas.ts storeUrlProblem does not look at the query of
  // postgres URLs. The rules are in src/ledger/libpq-tls.ts, which runs only at start.
  it('is refused by check at its line', () => {
    for (const url of [
      'postgres://postgres@127.0.0.1:5432/test?sslmode=bogus',
      'postgres://postgres@127.0.0.1:5432/test?sslmode=disable&sslrootcert=/etc/ssl/ca.pem',
    ]) {
      const issues = issuesOfFiles([['tollgate.yaml', `storage:\n  ledger: "${url}"\n`]]);
      expect(issues, url).toEqual([expect.objectContaining({ file: 'tollgate.yaml', line: 2, path: 'storage.ledger' })]);
      expect(issues[0]!.message).toMatch(/sslmode/);
    }
  });
});

describe('providers.<name>.headers naming a header the HTTP client refuses to send', () => {
  // Checked with the private build against `tollgate mock-upstream`. `check` says ok, `serve` starts, and
  // every call through the provider then fails before anything leaves the gateway:
  //   content-length: "5"         -> 502 upstream_error (UND_ERR_REQ_CONTENT_LENGTH_MISMATCH) "... try again."
  //   transfer-encoding: chunked  -> 502 upstream_error (UND_ERR_INVALID_ARG)
  //   upgrade: h2c                -> 502 upstream_error (UND_ERR_INVALID_ARG)
  //   expect: 100-continue        -> 502 upstream_error (UND_ERR_NOT_SUPPORTED)
  // (`connection: close` and `x-anything` go through fine.) The header names are checked for their syntax
  // only (`"Bad Header"` is refused).
  //   expected: `tollgate.yaml:6: providers.o.headers.content-length: ...` (and so on for each, at its line)
  //   actual:   no issue at all; check exits 0
  // Suspected cause: src/config/header-value.ts / gateway-schemas.ts providerSchema `headers` checks each
  // name's syntax and value, not whether undici can send it (src/providers/upstream-pool.ts).
  it('is refused by check, naming the header', () => {
    const text =
      'providers:\n  o:\n    type: openai\n    base_url: http://127.0.0.1:9/v1\n    headers:\n' +
      '      content-length: "5"\n      transfer-encoding: chunked\n      upgrade: h2c\n      expect: 100-continue\n' +
      'routes:\n  r: {chat_models: [{model_id: m, model: o/gpt-4o}]}\n';
    const issues = issuesOfFiles([['tollgate.yaml', text]]);
    expect(issues.map((i) => `${i.line} ${i.path}`)).toEqual([
      '6 providers.o.headers.content-length',
      '7 providers.o.headers.transfer-encoding',
      '8 providers.o.headers.upgrade',
      '9 providers.o.headers.expect',
    ]);
  });
});

describe('what held: file:line and path in the awkward places', () => {
  it('flow style, anchors with merge keys, CRLF, a BOM and a second --config file', () => {
    const crlf = 'server:\r\n  port: "x"\r\n  hots: a\r\n';
    const bom = '\uFEFFsrever: {}\n';
    const anchors = 'x-d: &d\n  reqest_limit: 3\nprojects:\n  a:\n    <<: *d\n    daily_limit: 1\n    priority: hgh\n';
    const base = 'projects:\n  p: {daily_limit: 100, request_limit: 10}\n';
    const overlay = '# overlay\n\nprojects:\n  p:\n    request_limit: 0\n    dialy_limit: 3\n';
    expect(issuesOfFiles([['crlf.yaml', crlf]]).map((i) => `${i.line} ${i.path}`)).toEqual(['2 server.port', '3 server.hots']);
    expect(issuesOfFiles([['bom.yaml', bom]])).toEqual([expect.objectContaining({ line: 1, path: 'srever', message: expect.stringContaining('did you mean `server`') })]);
    expect(issuesOfFiles([['a.yaml', anchors]]).map((i) => `${i.line} ${i.path}`)).toEqual(['2 projects.a.reqest_limit', '7 projects.a.priority']);
    expect(issuesOfFiles([['base.yaml', base], ['overlay.yaml', overlay]]).map((i) => `${i.file}:${i.line} ${i.path}`)).toEqual([
      'overlay.yaml:5 projects.p.request_limit',
      'overlay.yaml:6 projects.p.dialy_limit',
    ]);
  });

  it('never echoes a value an environment variable supplied, in a keyword field or a cross-reference', () => {
    const secret = 'sk-supersecretvalue-42';
    const keys = 'users: {t1: {daily_limit: 1}}\nkeys:\n  - {id: k, user: u, key: tg-1234567, tier: ${S}, routes: [${S}]}\n';
    // The schema stage (a time zone), then the cross-checks (a tier and a route), each on its own.
    for (const [text, count] of [[`server:\n  timezone: \${S}\n${keys}`, 1], [`server:\n  timezone: UTC\n${keys}`, 2]] as const) {
      const issues = issuesOfFiles([['tollgate.yaml', text]], { S: secret });
      expect(issues).toHaveLength(count);
      for (const issue of issues) expect(issue.message).not.toContain(secret);
    }
  });
});
