// Adopter QA of configuration values and how YAML is read (review): a `false` from the environment,
// reservation times past what a Node timer can wait, a `.nan`, messages that must stay one line each,
// tags and `$NAME` from other tools, aliases that multiply or are many, and a SQLite path with a space.
import { describe, expect, it } from 'vitest';
import { formatIssue } from '../src/config/index.js';
import { backgroundDeadlineMs, BackgroundCalls, type BackgroundCall, type GiveUpReason } from '../src/proxy/background-calls.js';
import type { Provider } from '../src/providers/provider.js';
import { issuesOf, load } from './helpers/config-texts.js';

describe('ledger.spill_dir from an environment variable', () => {
  it('is `false` (no spill) when an unquoted `${VAR}` gives false, as if written in place', () => {
    expect(load('ledger: {spill_dir: ${SPILL_DIR:-false}}\n').ledger.spillDir).toBe(false);
    expect(load('ledger: {spill_dir: ${SPILL_DIR}}\n', { SPILL_DIR: 'false' }).ledger.spillDir).toBe(false);
    expect(load('ledger: {spill_dir: ${SPILL_DIR}}\n', { SPILL_DIR: '/var/spill' }).ledger.spillDir).toBe('/var/spill');
    // Quoted, it stays the text the doc says quoting keeps.
    expect(load('ledger: {spill_dir: "${SPILL_DIR}"}\n', { SPILL_DIR: 'false' }).ledger.spillDir).toBe('false');
  });
});

/** Follows a background call with a provider that never says it ended; returns how it was given up, if it was. */
async function givenUpWithin(ms: number, deadlineMs: number): Promise<GiveUpReason | 'finished' | undefined> {
  let why: GiveUpReason | 'finished' | undefined;
  const retrieve = ({ signal }: { signal: AbortSignal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
  const provider = { retrieve } as unknown as Provider;
  const call: BackgroundCall = { responseId: 'resp_1', provider, requestId: 'req_1', usageOf: () => undefined, finish: async (_usage, reason) => void (why = reason) };
  const calls = new BackgroundCalls({ firstMs: 60_000, maxMs: 60_000 });
  calls.track(call, deadlineMs);
  await new Promise((resolve) => setTimeout(resolve, ms));
  await calls.finishAll({ withinMs: 1, atOnce: 1 });
  return why;
}

describe('reservation times a timer can wait', () => {
  it('refuses a storage.reservation_ttl_ms longer than a Node timer can wait, at its line', () => {
    const issues = issuesOf('storage:\n  reservation_ttl_ms: 2200000000\n');
    expect(issues).toEqual([expect.objectContaining({ line: 2, path: 'storage.reservation_ttl_ms' })]);
    expect(issues[0]!.message).toMatch(/at most 2147483647/);
  });

  it('keeps the default within it however long a provider timeout is, so background calls are not given up at once', async () => {
    const policy = load('providers:\n  slow: {type: openai, timeout_ms: 1500000000}\n');
    // Past 2^31 - 1 ms Node fires a timer after 1 ms: every background response was settled with its whole grant at once.
    expect(await givenUpWithin(50, backgroundDeadlineMs(policy.storage.reservationTtlMs))).toBe('stopping');
    expect(policy.storage.reservationTtlMs).toBeLessThanOrEqual(2_147_483_647);
  });
});

describe('odd numbers', () => {
  it('names `.nan` as not a number, not as infinity', () => {
    const [issue] = issuesOf('projects:\n  p: {daily_limit: .nan}\n');
    expect(issue).toMatchObject({ line: 2, path: 'projects.p.daily_limit' });
    expect(issue!.message).not.toMatch(/infinity/);
    expect(issue!.message).toMatch(/not a number/);
  });
});

describe('one problem per line', () => {
  it('shows a line break inside an echoed value escaped, so every printed line starts with file:line', () => {
    const issues = issuesOf('server:\n  timezone: "Europe/\\nParis"\nstorage:\n  on_store_error: "fail\\nopen"\n');
    expect(issues).toHaveLength(2);
    for (const issue of issues) {
      const printed = formatIssue(issue);
      expect(printed.split('\n')).toHaveLength(1);
      expect(printed).toMatch(/^tollgate\.yaml:\d+: /);
      expect(printed).toContain('\\n');
    }
  });
});

describe('YAML tags', () => {
  it('refuses a tag it does not read, such as `!ENV` (mkdocs, pyyaml-env-tag), instead of taking the variable name as the value', () => {
    const issues = issuesOf('providers:\n  openai:\n    type: openai\n    api_key: !ENV OPENAI_API_KEY\nserver: {host: !Ref gateway-host}\n', { OPENAI_API_KEY: 'sk-live-1234' });
    expect(issues.map((i) => [i.line, i.path])).toEqual([
      [4, 'providers.openai.api_key'],
      [5, 'server.host'],
    ]);
    expect(issues[0]!.message).toMatch(/tag.*\$\{NAME\}/);
    for (const issue of issues) expect(issue.message).not.toMatch(/OPENAI_API_KEY|gateway-host|Ref/);
  });

  it('never repeats the tag: an unquoted secret that starts with `!` reads as one', () => {
    const [issue] = issuesOf('keys:\n  - id: k\n    key: !tg-s3cr3t-value\n');
    expect(issue).toMatchObject({ line: 3, path: 'keys[0].key' });
    expect(issue!.message).not.toContain('s3cr3t');
    expect(issue!.message).toMatch(/in quotes/);
  });

  it('still reads the standard ones', () => {
    expect(load('server:\n  port: !!int "4100"\n  host: !!str localhost\n').server).toMatchObject({ port: 4100, host: 'localhost' });
  });
});

describe('aliases of aliases', () => {
  it('stop a 15 KB file that would expand to 9 million values, with one error at the alias, quickly', () => {
    const list = (item: string) => `[${Array.from({ length: 3000 }, () => item).join(',')}]`;
    const text = `x-a: &a ${list('1')}\nx-b: &b ${list('*a')}\nalerts: *b\n`;
    const started = performance.now();
    const issues = issuesOf(text);
    const tookMs = performance.now() - started;
    // Before: 3,000 issues (one per expanded list) after ~4 s of a blocked event loop.
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 2, path: expect.stringMatching(/^alerts\[\d+\]$/) });
    expect(issues[0]!.message).toMatch(/aliases expand this file past/);
    expect(tookMs).toBeLessThan(2000);
  });
});

describe('a large config that merges one anchor into every key', () => {
  it('loads in about the time of the same config written out (each alias was found by scanning the file before it)', () => {
    const keys = (withAlias: boolean) =>
      Array.from({ length: 2500 }, (_, i) => `  - {${withAlias ? '<<: *key_defaults' : 'project: p, groups: [g1, g2]'}, id: k${i}, key_sha256: "${i.toString(16).padStart(64, '0')}"}`).join('\n');
    const head = 'x-key-defaults: &key_defaults {project: p, groups: [g1, g2]}\nprojects: {p: {daily_limit: 1000}}\nkeys:\n';
    const timed = (text: string) => {
      const started = performance.now();
      const policy = load(text);
      return { ms: performance.now() - started, policy };
    };
    const plain = timed(head + keys(false));
    const aliased = timed(head + keys(true));
    expect(aliased.policy.keys).toHaveLength(2500);
    expect(aliased.policy.keys[2499]).toMatchObject({ project: 'p', groups: ['g1', 'g2'] });
    // Before: ~16 s here against ~0.3 s written out (65 s for 5,000 keys), every reload blocking the gateway that long.
    expect(aliased.ms).toBeLessThan(Math.max(1500, 4 * plain.ms));
  });

  it('still takes, for each alias, the anchor of that name written last before it', () => {
    const policy = load('projects:\n  a: &p {daily_limit: 1}\n  b: *p\n  c: &p {daily_limit: 2}\n  d: *p\n');
    expect([...policy.projects.values()].map((p) => p.limits[0]!.max)).toEqual([1, 1, 2, 2]);
  });
});

describe('a variable written `$NAME`, as Docker Compose and shells read it', () => {
  it('is refused when NAME is set, instead of the variable\'s name becoming the key (a secret anyone reading the file knows)', () => {
    const env = { OPENAI_API_KEY: 'sk-live-1234', TOLLGATE_ADMIN_KEY: 'adm-secret-5678' };
    const issues = issuesOf('providers:\n  openai: {type: openai, api_key: $OPENAI_API_KEY}\nserver:\n  admin_key: $TOLLGATE_ADMIN_KEY\n', env);
    expect(issues.map((i) => [i.line, i.path])).toEqual([
      [2, 'providers.openai.api_key'],
      [4, 'server.admin_key'],
    ]);
    expect(issues[0]!.message).toContain('`${OPENAI_API_KEY}`');
    for (const issue of issues) expect(issue.message).not.toMatch(/sk-live|adm-secret/);
  });

  it('stays text when no such variable is set, or within other text', () => {
    expect(load('server:\n  admin_key: $NOT_A_SET_VARIABLE\n').server.adminKeySha256).toBeDefined();
    expect(load('server:\n  admin_key: pa$HOME\n', { HOME: '/root' }).server.adminKeySha256).toBeDefined();
  });
});

describe('storage.ledger', () => {
  it('takes a SQLite path with a space in it (macOS `Application Support`), which the ledger opens as written', () => {
    const ledger = 'sqlite:/Users/me/Library/Application Support/tollgate/tollgate.db';
    expect(load(`storage: {ledger: "${ledger}"}\n`).storage.ledger).toBe(ledger);
  });

  it('still refuses a space right after `sqlite:`, and a line break', () => {
    expect(issuesOf('storage: {ledger: "sqlite: ./t.db"}\n')).toEqual([expect.objectContaining({ line: 1, path: 'storage.ledger' })]);
    expect(issuesOf('storage: {ledger: "sqlite:./t.db\\n"}\n')).toEqual([expect.objectContaining({ line: 1, path: 'storage.ledger' })]);
  });
});
