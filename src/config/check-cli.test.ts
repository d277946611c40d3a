// `tollgate check` as users run it: the built CLI in a child process, exit codes and output.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cli = resolve(repoRoot, 'dist/cli/index.js');
let dir: string;

/** Runs `node dist/cli/index.js ...args` to its exit: its exit code and output. */
function run(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', fail);
    // 'close', not 'exit': after both pipes have given all the output.
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

function check(...files: string[]) {
  return run(['check', ...files.flatMap((f) => ['--config', f])], { PATH: process.env.PATH ?? '' });
}

beforeAll(() => {
  // `npm test` builds first, as it does for every test that runs the CLI (building again here rewrote
  // dist/ under the tests running beside this one, and took ~9 s).
  expect(existsSync(cli), `${cli} is missing: run npm run build`).toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'tollgate-check-'));
});

// Concurrent: each test waits on its own CLI processes (~0.5 s of CPU each, 17 in all) and writes its own
// files; one after the other the file took 18 s in CI.
describe.concurrent('tollgate check', () => {
  it('exits 0 with a summary for valid configs merged in order', async ({ expect }) => {
    const { code, stdout, stderr } = await check('examples/seed-token-limits.yaml', 'examples/seed-routes.yaml');
    expect(stdout.trim()).toBe('ok: 2 files, 1 organization, 2 projects, 2 tiers, 0 groups, 4 routes, 2 providers, 0 keys');
    expect(code).toBe(0);
    // Valid, but the seed's ladder and priorities are not acted on yet: said once per kind, at its line.
    expect(stderr.trim().split('\n')).toEqual([
      "warning: examples/seed-token-limits.yaml:10: projects.production.priority: `priority` is not acted on yet (see the README's Status): every project is admitted alike",
      "warning: examples/seed-token-limits.yaml:25: alerts[0].channels: alert notifications are not sent yet (see the README's Status); the dashboard lists the alerts",
      "warning: examples/seed-token-limits.yaml:27: alerts[1].action: `throttle` and `block` are not acted on yet (see the README's Status): no call is slowed or refused by the alert ladder",
    ]);
  });

  // Regression test from an audit: a key naming `ml-tem` for the declared `ml-team` escaped its limits silently.
  it('warns about a key group one typo away from a declared group, and still exits 0', async ({ expect }) => {
    const typo = join(dir, 'group-typo.yaml');
    writeFileSync(typo, 'groups:\n  ml-team: {daily_limit: 100}\nkeys:\n  - {id: k, key: secret1, groups: [ml-tem, research]}\n');
    const { code, stderr } = await check(typo);
    expect(code).toBe(0);
    expect(stderr.trim()).toBe(`warning: ${typo}:4: keys[0].groups[0]: group \`ml-tem\` is not declared under \`groups\`, so none of its limits apply; did you mean \`ml-team\`?`);
    // Two neighbouring letters swapped are one typo too (plain edit distance counts two).
    writeFileSync(typo, 'groups:\n  ml-team: {daily_limit: 100}\nkeys:\n  - {id: k, key: secret1, groups: [ml-taem]}\n');
    expect((await check(typo)).stderr.trim()).toBe(`warning: ${typo}:4: keys[0].groups[0]: group \`ml-taem\` is not declared under \`groups\`, so none of its limits apply; did you mean \`ml-team\`?`);
  });

  // From a security audit: /metrics is open unless a bearer token is set, which only a loopback host makes safe.
  it('warns when /metrics answers without a token on an address others reach', async ({ expect }) => {
    const open = join(dir, 'open-metrics.yaml');
    writeFileSync(open, 'server:\n  host: 0.0.0.0\nkeys:\n  - {id: k, key: secret1}\n');
    const { code, stderr } = await check(open);
    expect(code).toBe(0);
    expect(stderr.trim()).toBe(`warning: ${open}:2: server.host: \`/metrics\` answers anyone who reaches 0.0.0.0 and shows every organization's spend and headroom; set \`metrics.bearer_token\``);
    writeFileSync(open, 'server:\n  host: 0.0.0.0\nmetrics: {bearer_token: scrape-secret}\nkeys:\n  - {id: k, key: secret1}\n');
    expect((await check(open)).stderr).toBe('');
  });

  it('refuses budget leases longer than half the reservation TTL, and warns that memory counters ignore them', async ({ expect }) => {
    // Three files checked at once (one rewritten three times took three CLI starts one after another).
    const [tooLong, half, memory] = ['leases-too-long.yaml', 'leases-half.yaml', 'leases-memory.yaml'].map((name) => join(dir, name));
    writeFileSync(tooLong, 'storage:\n  counters: redis://127.0.0.1:6379\n  reservation_ttl_ms: 60000\n  lease_ms: 40000\nkeys:\n  - {id: k, key: secret1}\n');
    writeFileSync(half, 'storage:\n  counters: redis://127.0.0.1:6379\n  reservation_ttl_ms: 60000\n  lease_ms: 30000\nkeys:\n  - {id: k, key: secret1}\n');
    writeFileSync(memory, 'storage:\n  lease_ms: 1000\nkeys:\n  - {id: k, key: secret1}\n');
    const [refused, allowed, ignored] = await Promise.all([check(tooLong), check(half), check(memory)]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${tooLong}:4: storage.lease_ms: must be at most half of \`reservation_ttl_ms\` (60000)`);
    expect(allowed).toMatchObject({ code: 0, stderr: '' });
    expect(ignored.code).toBe(0);
    expect(ignored.stderr.trim()).toBe(`warning: ${memory}:2: storage.lease_ms: \`lease_ms\` has no effect with \`counters: memory\` (leases save round trips to a shared store)`);
  });

  it('accepts the quick start', async ({ expect }) => {
    const { code, stdout } = await check('examples/quickstart.yaml');
    expect(stdout).toMatch(/^ok: 1 file, 1 organization, 2 projects, 2 tiers, 0 groups, 1 route, 1 provider, 2 keys\n$/);
    expect(code).toBe(0);
  });

  it('exits 1 with file:line: path: message lines on stderr', async ({ expect }) => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'projects:\n  production:\n    dialy_limit: 5\nkeys:\n  - {id: a, key: tg-hidden-secret, tier: gold, user: u}\n');
    const { code, stdout, stderr } = await check(bad);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n');
    expect(lines).toContain(`${bad}:3: projects.production.dialy_limit: unknown key \`dialy_limit\` (did you mean \`daily_limit\`?)`);
    for (const line of lines) expect(line).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: `));
    expect(stderr).not.toContain('tg-hidden-secret');
  });

  it('reports a missing environment variable and a missing file', async ({ expect }) => {
    const needsEnv = join(dir, 'env.yaml');
    writeFileSync(needsEnv, 'server:\n  admin_key: ${TOLLGATE_TEST_UNSET_VAR}\n');
    const env = await check(needsEnv);
    expect(env.code).toBe(1);
    expect(env.stderr).toContain(`${needsEnv}:2: server.admin_key: environment variable TOLLGATE_TEST_UNSET_VAR is not set`);
    const missing = await check(join(dir, 'nope.yaml'));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`${join(dir, 'nope.yaml')}:1: file not found`);
  });

  it('refuses an empty or comment-only file, naming it', async ({ expect }) => {
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '# keys:\n#   - {id: a, key: tg-a}\n');
    const { code, stdout, stderr } = await check(empty);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe(`${empty}:1: the file is empty (or only comments); write \`{}\` to run on the defaults`);
  });

  it('suggests --config for a file given as a bare argument', async ({ expect }) => {
    const result = await run(['check', 'examples/quickstart.yaml', 'examples/seed-routes.yaml']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('tollgate check: config files are given with --config: tollgate check --config examples/quickstart.yaml --config examples/seed-routes.yaml');
  });

  it('asks for a config file when none is given', async ({ expect }) => {
    const { code, stderr } = await check();
    expect(code).toBe(1);
    expect(stderr).toContain('--config');
  });
});
