// `tollgate usage` and `tollgate audit` as a person runs them: the built CLI, a config file, a ledger.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { TABLE } from '../src/ledger/ledger-sql.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { postgresPlace } from './helpers/ledgers.js';
import { CLI, startCli } from './helpers/processes.js';

const run = promisify(execFile);
const NOW = Date.now();
const HOUR = 3_600_000;

function row(i: number, over: Partial<LedgerRow>): LedgerRow {
  return {
    ts: NOW - 2 * HOUR, requestId: `cli-${i}`, organization: 'default', project: 'web', user: 'alice', keyId: 'alice', groups: [], route: 'main',
    modelId: 'gpt-4o', provider: 'openai', model: 'gpt-4o', endpoint: 'chat', stream: false, streamEnd: null, tags: {}, status: 200, decision: 'admitted',
    blockedBy: null, limits: [], shadowBlocked: [], fallback: null, inputTokens: 100, outputTokens: 10, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0,
    reservedInput: 100, reservedOutput: 10, costUsd: 0.00035, inputCostUsd: 0.00025, toolFeesUsd: 0, serviceTier: null, usageSource: 'provider', latencyMs: 3, upstreamLatencyMs: 2, providerResponseId: null, inferenceGeo: null, audioInputTokens: 0, audioOutputTokens: 0, ...over,
  };
}

/** The rows of the main ledger (written to SQLite below, and to PostgreSQL where the two must agree). */
const FIXTURE: LedgerRow[] = [
  row(1, { tags: { feature: 'search' } }),
  // 300 of its input written to the prompt cache (the cost is not re-derived here: only the column is read).
  row(2, { tags: { feature: 'search' }, project: 'batch', model: 'gpt-4o-mini', inputTokens: 1000, outputTokens: 100, cacheWriteInputTokens: 300, cacheWrite1hInputTokens: 100, costUsd: 0.00021, inputCostUsd: 0.00015 }),
  // A stream whose provider sent no usage: its tokens were counted by the gateway.
  row(3, { tags: { feature: 'chat, "beta"' }, project: 'batch', model: 'gpt-4o-mini', inputTokens: 1000, outputTokens: 100, costUsd: 0.00021, inputCostUsd: 0.00015, usageSource: 'estimated' }),
  row(4, { decision: 'blocked', status: 429, inputTokens: 0, outputTokens: 0, costUsd: 0, inputCostUsd: 0, usageSource: 'none' }),
  row(5, { ts: NOW - 20 * 86_400_000 }), // outside the default 7 days
];

let dir: string;
let configFile: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tollgate-cli-'));
  configFile = path.join(dir, 'tollgate.yaml');
  // A relative path: resolved against the config file's directory, as `tollgate serve` does.
  writeFileSync(configFile, 'storage: {ledger: "sqlite:./data/ledger.db"}\nserver: {timezone: UTC}\n');
  const ledger = await openLedger(`sqlite:${path.join(dir, 'data/ledger.db')}`);
  await ledger.append(FIXTURE);
  await ledger.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The tests run concurrently (each one's CLI processes in series, several tests' at once): they only read the
// ledgers written in the beforeAll hooks, and each writes files and starts a gateway or a database of its own.
// Every describe block is concurrent, the one whose database refuses the read too (it locks a database of its
// own), so that no block waits for the slowest test of the one before it with a core left idle (12-07, CI:
// 30.5 s for the file, 110 s of test time: nearly all of it `node dist/cli/index.js` starting, ~0.3 s of CPU
// before the command reads a ledger, ~0.55 s in all, on 2 cores already busy with the other tests).

describe.concurrent('tollgate usage', () => {
  it('prints a table by project and model with totals, from the last 7 days by default', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'usage', '--config', configFile, '--by', 'project,model']);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^project\s+model\s+calls\s+requests\s+blocked\s+failed\s+input_tokens\s+output_tokens\s+cached_input_tokens\s+cache_write_input_tokens\s+total_tokens\s+estimated_tokens\s+cost_usd$/);
    // Largest cost first; estimated_tokens is the part of total_tokens the gateway counted (row 3's).
    expect(lines[2]).toMatch(/^batch\s+openai\/gpt-4o-mini\s+2\s+2\s+0\s+0\s+2000\s+200\s+0\s+300\s+2200\s+1100\s+0\.000420000$/);
    expect(lines[3]).toMatch(/^web\s+openai\/gpt-4o\s+2\s+1\s+1\s+0\s+100\s+10\s+0\s+0\s+110\s+0\s+0\.000350000$/);
    expect(lines[5]).toMatch(/^TOTAL\s+4\s+3\s+1\s+0\s+2100\s+210\s+0\s+300\s+2310\s+1100\s+0\.000770000$/);
  });

  it('writes CSV with quoting, and groups by tag and local day', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'usage', '--config', configFile, '--by', 'tag:feature', '--format', 'csv', '--since', '30d']);
    expect(stdout.split('\n')).toEqual([
      'tag:feature,calls,requests,blocked,failed,input_tokens,output_tokens,cached_input_tokens,cache_write_input_tokens,total_tokens,estimated_tokens,cost_usd',
      'search,2,2,0,0,1100,110,0,300,1210,0,0.000560000',
      ',2,1,1,0,100,10,0,0,110,0,0.000350000',
      '"chat, ""beta""",1,1,0,0,1000,100,0,0,1100,1100,0.000210000',
      'TOTAL,5,4,1,0,2200,220,0,300,2420,1100,0.001120000',
      '',
    ]);
    const day = await run(process.execPath, [CLI, 'usage', '--config', configFile, '--by', 'day', '--format', 'json', '--since', '30d']);
    const report = JSON.parse(day.stdout);
    expect(report.rows.map((r: { day: string; calls: number }) => [r.day, r.calls])).toEqual([
      [new Date(NOW - 20 * 86_400_000).toISOString().slice(0, 10), 1],
      [new Date(NOW - 2 * HOUR).toISOString().slice(0, 10), 4],
    ]);
    expect(report.totals).toMatchObject({ calls: 5, cache_write_input_tokens: 300, total_tokens: 2420, estimated_tokens: 1100 });
  });

  // Regression test from an audit: with --ledger alone, days were UTC days, silently.
  it('--timezone says whose calendar days `day` groups by; --ledger alone says it uses UTC days', async () => {
    const ledgerUrl = `sqlite:${path.join(dir, 'data/ledger.db')}`;
    const localDay = (zone: string, ms: number): string => new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
    // Twenty-five hours apart: the same instant always falls on different dates in these two zones.
    for (const zone of ['Pacific/Kiritimati', 'Pacific/Pago_Pago']) {
      const { stdout, stderr } = await run(process.execPath, [CLI, 'usage', '--ledger', ledgerUrl, '--timezone', zone, '--by', 'day', '--format', 'json', '--since', '30d']);
      const report = JSON.parse(stdout);
      expect(report.timezone).toBe(zone);
      expect(report.rows.map((r: { day: string }) => r.day)).toContain(localDay(zone, NOW - 2 * HOUR));
      expect(stderr).toBe('');
    }
    const utc = await run(process.execPath, [CLI, 'usage', '--ledger', ledgerUrl, '--by', 'day', '--format', 'json', '--since', '30d']);
    expect(JSON.parse(utc.stdout).timezone).toBe('UTC');
    expect(utc.stderr).toContain('days are UTC days');
    await expect(run(process.execPath, [CLI, 'usage', '--ledger', ledgerUrl, '--timezone', 'Mars/Olympus'])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('not an IANA time zone') });
  });

  it('filters, and explains bad arguments', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'usage', '--config', configFile, '--by', 'user', '--project', 'batch', '--format', 'json']);
    expect(JSON.parse(stdout).totals).toMatchObject({ calls: 2, input_tokens: 2000, cache_write_input_tokens: 300 });
    await expect(run(process.execPath, [CLI, 'usage', '--config', configFile, '--by', 'colour'])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("unknown dimension 'colour'") });
    await expect(run(process.execPath, [CLI, 'usage', '--config', configFile, '--since', 'last tuesday'])).rejects.toMatchObject({ stderr: expect.stringContaining('cannot read time') });
  });

  // A FinOps lead could not see how much of the usage the gateway estimated rather than the provider reported.
  it('groups by usage_source: what the provider reported, what the gateway estimated, calls that used nothing', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'usage', '--config', configFile, '--by', 'usage_source', '--format', 'csv', '--since', '30d']);
    expect(stdout.split('\n')).toEqual([
      'usage_source,calls,requests,blocked,failed,input_tokens,output_tokens,cached_input_tokens,cache_write_input_tokens,total_tokens,estimated_tokens,cost_usd',
      'provider,3,3,0,0,1200,120,0,300,1320,0,0.000910000',
      'estimated,1,1,0,0,1000,100,0,0,1100,1100,0.000210000',
      'none,1,0,1,0,0,0,0,0,0,0,0.000000000',
      'TOTAL,5,4,1,0,2200,220,0,300,2420,1100,0.001120000',
      '',
    ]);
    const byProject = await run(process.execPath, [CLI, 'usage', '--config', configFile, '--by', 'project,usage_source', '--format', 'json', '--since', '30d']);
    expect(JSON.parse(byProject.stdout).rows.map((r: Record<string, unknown>) => [r.project, r.usage_source, r.calls, r.total_tokens, r.estimated_tokens])).toEqual([
      ['web', 'provider', 2, 220, 0],
      ['batch', 'estimated', 1, 1100, 1100],
      ['batch', 'provider', 1, 1100, 0],
      ['web', 'none', 1, 0, 0],
    ]);
    const help = await run(process.execPath, [CLI, 'usage', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('comma-separated: organization, project, user, key, group, route, model, model_id, provider, endpoint, status, decision, usage_source, day or tag:<name>');
    await expect(run(process.execPath, [CLI, 'usage', '--config', configFile, '--by', 'source'])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('decision, usage_source, day or tag:<name>') });
  });

  it('gives the same report, usage_source and estimated_tokens included, from a PostgreSQL ledger holding the same rows', async () => {
    const pg = await postgresPlace();
    try {
      const ledger = await openLedger(pg.url);
      await ledger.append(FIXTURE);
      await ledger.close();
      const period = ['--since', new Date(NOW - 30 * 86_400_000).toISOString(), '--until', new Date(NOW + 60_000).toISOString(), '--timezone', 'UTC'];
      const report = async (url: string, by: string): Promise<unknown> => {
        const { stdout } = await run(process.execPath, [CLI, 'usage', '--ledger', url, '--by', by, '--format', 'json', ...period]);
        return JSON.parse(stdout);
      };
      const sqliteUrl = `sqlite:${path.join(dir, 'data/ledger.db')}`;
      const groupings = ['usage_source', 'project,usage_source', 'usage_source,day', 'model,tag:feature', ''];
      const pairs = await Promise.all(groupings.map((by) => Promise.all([report(pg.url, by), report(sqliteUrl, by)])));
      pairs.forEach(([fromPg, fromSqlite], i) => expect(fromPg, groupings[i]).toEqual(fromSqlite));
      // The PostgreSQL report by usage_source (groupings[0]), read above: the same command run again printed the same.
      const bySource = pairs[0][0] as { rows: Array<Record<string, unknown>>; totals: Record<string, number> };
      expect(bySource.rows.map((r) => [r.usage_source, r.calls, r.total_tokens, r.estimated_tokens, r.cost_usd])).toEqual([
        ['provider', 3, 1320, 0, 0.00091],
        ['estimated', 1, 1100, 1100, 0.00021],
        ['none', 1, 0, 0, 0],
      ]);
      expect(bySource.totals).toMatchObject({ calls: 5, total_tokens: 2420, estimated_tokens: 1100 });
    } finally {
      await pg.drop();
    }
  });
});

describe.concurrent('tollgate usage: a read the database refuses', () => {
  it('is exit 1 with the database\'s reason, not a stack trace', async () => {
    const pg = await postgresPlace();
    const admin = postgres(pg.url, { max: 2, onnotice: () => {} });
    const holder = await admin.reserve();
    try {
      const ledger = await openLedger(pg.url);
      await ledger.append(FIXTURE);
      await ledger.close();
      await admin.unsafe(`ALTER DATABASE ${new URL(pg.url).pathname.slice(1)} SET lock_timeout = '300ms'`);
      // Another session holds the ledger's table (a migration, a VACUUM FULL): the report's read times out.
      await holder.unsafe('BEGIN');
      await holder.unsafe(`LOCK TABLE ${TABLE} IN ACCESS EXCLUSIVE MODE`);
      const failed = await run(process.execPath, [CLI, 'usage', '--ledger', pg.url, '--by', 'project']).then(
        () => undefined,
        (err: { code: number; stderr: string }) => err,
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stderr).toMatch(/^tollgate usage: reading the ledger postgres:\/\/\S+ failed: canceling statement due to lock timeout\n$/);
    } finally {
      await holder.unsafe('ROLLBACK').catch(() => {});
      holder.release();
      await admin.end({ timeout: 1 });
      await pg.drop();
    }
  });
});

describe.concurrent('tollgate usage: periods and ledgers', () => {
  const calls = async (args: string[]): Promise<number> => {
    const { stdout } = await run(process.execPath, [CLI, 'usage', '--config', configFile, '--by', '', '--format', 'json', ...args]);
    return JSON.parse(stdout).totals.calls;
  };

  it('--until ends the period, exclusively: rows at or after it are left out', async () => {
    expect(await calls(['--since', '30d'])).toBe(5);
    // Four rows are 2 hours old, one is 20 days old.
    expect(await calls(['--since', '30d', '--until', '1d'])).toBe(1);
    const atFour = new Date(NOW - 2 * HOUR).toISOString();
    expect(await calls(['--since', '30d', '--until', atFour])).toBe(1);
    expect(await calls(['--since', '30d', '--until', new Date(NOW - 2 * HOUR + 1).toISOString()])).toBe(5);
  });

  it('refuses --since not before --until with exit 1, instead of an empty report', async () => {
    const err = await run(process.execPath, [CLI, 'usage', '--config', configFile, '--since', '2026-05-02', '--until', '2026-05-01']).catch((e) => e);
    expect(err).toMatchObject({ code: 1, stdout: '' });
    expect(err.stderr).toMatch(/^tollgate usage: --since 2026-05-02 \(2026-05-02T00:00:00\.000Z\) is not before --until 2026-05-01 .*the period is empty\n$/);
    await expect(run(process.execPath, [CLI, 'usage', '--config', configFile, '--since', '1d', '--until', '1d'])).rejects.toMatchObject({ code: 1 });
    // Regression (QA): without --until, a period starting now printed an empty report with exit 0.
    const fromNow = await run(process.execPath, [CLI, 'usage', '--config', configFile, '--since', '0d']).catch((e) => e);
    expect(fromNow).toMatchObject({ code: 1, stdout: '' });
    expect(fromNow.stderr).toMatch(/^tollgate usage: --since 0d \(.*\) is not before now \(.*\): the period is empty\n$/);
  });

  // Regression (QA): `--since 7` was read by Date.parse as 2001-07-01, a report of 25 years with exit 0.
  it('refuses a bare number, --since or --until, as time it cannot read, suggesting the unit', async () => {
    const refused = async (args: string[]) => run(process.execPath, [CLI, 'usage', '--config', configFile, ...args]).catch((e) => e);
    expect(await refused(['--since', '7'])).toMatchObject({
      code: 1, stdout: '', stderr: "tollgate usage: cannot read time '7': a number needs its unit, such as 7d (days), 7h, 7m or 7w\n",
    });
    expect(await refused(['--since', '30d', '--until', '0'])).toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining("cannot read time '0'") });
  });

  it('refuses a calendar date that does not exist, naming the flag, instead of rolling it over', async () => {
    const refused = async (args: string[]) => run(process.execPath, [CLI, 'usage', '--config', configFile, ...args]).catch((e) => e);
    expect(await refused(['--since', '2026-11-31'])).toMatchObject({
      code: 1, stdout: '', stderr: 'tollgate usage: --since 2026-11-31: there is no day 31 in November 2026 (it has 30 days)\n',
    });
    expect(await refused(['--since', '2026-01-01', '--until', '2026-13-45'])).toMatchObject({
      code: 1, stdout: '', stderr: 'tollgate usage: --until 2026-13-45: there is no month 13\n',
    });
    expect(await refused(['--since', '2026-02-30T08:00:00Z'])).toMatchObject({ code: 1, stderr: expect.stringContaining('--since 2026-02-30T08:00:00Z: there is no day 30') });
  });

  it('never creates a ledger: a missing SQLite file is exit 1, named, and still missing afterwards', async () => {
    const missing = path.join(dir, 'typo/typo.db');
    const err = await run(process.execPath, [CLI, 'usage', '--ledger', `sqlite:${missing}`]).catch((e) => e);
    expect(err).toMatchObject({ code: 1, stdout: '' });
    expect(err.stderr).toBe(`tollgate usage: no ledger at ${missing}: the file does not exist (from --ledger)\n`);
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(path.dirname(missing))).toBe(false);
    // Named by a config: the path as resolved against the config's directory, and which file said so.
    const typoConfig = path.join(dir, 'typo.yaml');
    writeFileSync(typoConfig, 'storage: {ledger: "sqlite:./data/legder.db"}\n');
    const viaConfig = await run(process.execPath, [CLI, 'usage', '--config', typoConfig]).catch((e) => e);
    expect(viaConfig).toMatchObject({ code: 1, stderr: `tollgate usage: no ledger at ${path.join(dir, 'data/legder.db')}: the file does not exist (from storage.ledger in ${typoConfig})\n` });
    expect(existsSync(path.join(dir, 'data/legder.db'))).toBe(false);
  });

  it('refuses a file that is not a ledger, and leaves it as it was', async () => {
    const other = path.join(dir, 'other.db');
    writeFileSync(other, '');
    const err = await run(process.execPath, [CLI, 'usage', '--ledger', `sqlite:${other}`]).catch((e) => e);
    expect(err).toMatchObject({ code: 1, stderr: `tollgate usage: ${other} is not a Tollgate ledger: it has no tollgate_ledger (from --ledger)\n` });
    expect(statSync(other).size).toBe(0);
  });
});

describe.concurrent('tollgate audit', () => {
  it('asks a running gateway and exits 0 without drift; refuses without the admin key', async () => {
    const file = path.join(dir, 'serve.yaml');
    writeFileSync(file, `server: {admin_key: audit-key}
storage: {ledger: "sqlite:./data/serve.db"}
providers: {demo: {type: mock}}
organizations: {acme: {}, globex: {}}
projects: {web: {daily_limit: 100000}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]}}
keys:
  - {id: alice, key: tg-alice, project: web, organization: acme}
  - {id: gary, key: tg-gary, project: web, organization: globex}
`);
    const gateway = await startCli(['serve', '--config', file, '--port', '0']);
    try {
      for (const key of ['tg-alice', 'tg-alice', 'tg-alice', 'tg-gary', 'tg-gary']) {
        await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 }),
        });
      }
      const ok = await run(process.execPath, [CLI, 'audit', '--url', gateway.url], { env: { ...process.env, TOLLGATE_ADMIN_KEY: 'audit-key' } });
      expect(ok.stdout).toMatch(/2 limits, 0 drifting/);
      // Each organization has its own counter for the project they both name.
      const used = (org: string): number => Number(new RegExp(`^${org}\\s+project:web:daily\\s+(\\d+)\\s+\\1\\s+0\\s+tokens$`, 'm').exec(ok.stdout)?.[1]);
      expect(used('acme')).toBeGreaterThan(used('globex'));
      expect(used('globex')).toBeGreaterThan(0);
      await expect(run(process.execPath, [CLI, 'audit', '--url', gateway.url, '--admin-key', 'nope'])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('needs the admin key') });
      // An unknown format is refused, as `usage` refuses one, rather than printing the table.
      const csv = await run(process.execPath, [CLI, 'audit', '--url', gateway.url, '--format', 'csv'], { env: { ...process.env, TOLLGATE_ADMIN_KEY: 'audit-key' } }).catch((e) => e);
      expect(csv).toMatchObject({ code: 1, stdout: '', stderr: "tollgate audit: --format must be table or json, not 'csv'\n" });
      // Credentials in --url are refused without being repeated.
      const withCredentials = gateway.url.replace('://', '://admin:s3cret-p@ss@');
      const refused = await run(process.execPath, [CLI, 'audit', '--url', withCredentials], { env: { ...process.env, TOLLGATE_ADMIN_KEY: 'audit-key' } }).catch((e) => e);
      expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('without credentials') });
      expect(refused.stderr).not.toMatch(/s3cret|p@ss/);
      // Run where the secrets are not: only server.host and server.port are read from --config.
      const { hostname, port } = new URL(gateway.url);
      const bastion = path.join(dir, 'bastion-audit.yaml');
      writeFileSync(bastion, `server: {host: ${hostname}, port: \${TG_TEST_AUDIT_PORT:-${port}}, admin_key: \${TG_TEST_UNSET_ADMIN_KEY}}
providers: {openai: {type: openai, api_key: \${TG_TEST_UNSET_OPENAI_KEY}}}
`);
      const viaConfig = await run(process.execPath, [CLI, 'audit', '--config', bastion], { env: { ...process.env, TOLLGATE_ADMIN_KEY: 'audit-key' } });
      expect(viaConfig.stdout).toMatch(/2 limits, 0 drifting/);
      writeFileSync(bastion, 'server: {port: ${TG_TEST_UNSET_PORT}}\nproviders: {openai: {type: openai, api_key: ${TG_TEST_UNSET_OPENAI_KEY}}}\n');
      const noPort = await run(process.execPath, [CLI, 'audit', '--config', bastion], { env: { ...process.env, TOLLGATE_ADMIN_KEY: 'audit-key' } }).catch((e) => e);
      expect(noPort).toMatchObject({ code: 1, stdout: '' });
      expect(noPort.stderr).toMatch(new RegExp(`^${bastion}:1: server\\.port: environment variable TG_TEST_UNSET_PORT is not set \\(.*\\)\n$`));
    } finally {
      await gateway.stop();
    }
  });
});

// A FinOps person runs reports on a bastion that has the config but not the provider and client secrets.
describe.concurrent('report commands need only the environment variables of the fields they read', () => {
  const SECRETS = `storage: {ledger: "sqlite:\${TG_TEST_LEDGER_DIR}/ledger.db"}
server: {timezone: UTC, admin_key: \${TG_TEST_UNSET_ADMIN_KEY}}
providers: {openai: {type: openai, api_key: \${TG_TEST_UNSET_OPENAI_KEY}}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: openai/gpt-4o}]}}
keys:
  - {id: alice, key: \${TG_TEST_UNSET_ALICE_KEY}}
`;
  const tollgate = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 15_000 }).catch((e) => e);

  it('tollgate usage reports with the provider and key secrets unset', async () => {
    const file = path.join(dir, 'bastion.yaml');
    writeFileSync(file, SECRETS);
    const { stdout } = await tollgate(['usage', '--config', file, '--by', '', '--format', 'json', '--since', '30d'], { TG_TEST_LEDGER_DIR: path.join(dir, 'data') });
    expect(JSON.parse(stdout).totals.calls).toBe(5);
  });

  it('tollgate usage still names file:line, field and variable when the ledger path needs an unset one', async () => {
    const file = path.join(dir, 'bastion-no-ledger.yaml');
    writeFileSync(file, SECRETS);
    const err = await tollgate(['usage', '--config', file], {});
    expect(err).toMatchObject({ code: 1, stdout: '' });
    expect(err.stderr).toMatch(new RegExp(`^${file}:1: storage\\.ledger: environment variable TG_TEST_LEDGER_DIR is not set \\(.*\\)\n$`));
  });

  it('serve and check still refuse every unset variable', async () => {
    const file = path.join(dir, 'bastion-serve.yaml');
    writeFileSync(file, SECRETS);
    const env = { TG_TEST_LEDGER_DIR: path.join(dir, 'data') };
    for (const args of [['check', '--config', file], ['serve', '--config', file, '--port', '0']]) {
      const err = await tollgate(args, env);
      expect(err, args[0]).toMatchObject({ code: 1 });
      for (const [line, field, name] of [[2, 'server.admin_key', 'TG_TEST_UNSET_ADMIN_KEY'], [3, 'providers.openai.api_key', 'TG_TEST_UNSET_OPENAI_KEY'], [6, 'keys[0].key', 'TG_TEST_UNSET_ALICE_KEY']]) {
        expect(err.stderr, args[0]).toContain(`${file}:${line}: ${field}: environment variable ${name} is not set`);
      }
    }
  });
});

// Regression: a date-time without a zone was read in the process's zone, while dates, `day` and the
// limits' calendar days are those of server.timezone.
describe.concurrent('tollgate usage: a date-time without a zone is a local time of server.timezone', () => {
  let tzConfig: string;
  let tzLedger: string;

  beforeAll(async () => {
    tzConfig = path.join(dir, 'new-york.yaml');
    writeFileSync(tzConfig, 'storage: {ledger: "sqlite:./data/new-york.db"}\nserver: {timezone: America/New_York}\n');
    tzLedger = `sqlite:${path.join(dir, 'data/new-york.db')}`;
    const ledger = await openLedger(tzLedger);
    // 2026-12-01 starts at 05:00 UTC in New York (EST): one row on each side of both of its ends.
    await ledger.append([
      row(11, { ts: Date.UTC(2026, 11, 1, 4, 30), keyId: 'nov-30-evening' }),
      row(12, { ts: Date.UTC(2026, 11, 1, 5, 30), keyId: 'dec-1-morning' }),
      row(13, { ts: Date.UTC(2026, 11, 2, 4, 30), keyId: 'dec-1-evening' }),
      row(14, { ts: Date.UTC(2026, 11, 2, 5, 30), keyId: 'dec-2-morning' }),
    ]);
    await ledger.close();
  });

  const keys = async (args: string[]): Promise<{ keys: string[]; stderr: string }> => {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'usage', '--by', 'key', '--format', 'json', ...args]);
    return { keys: JSON.parse(stdout).rows.map((r: { key: string }) => r.key).sort(), stderr };
  };

  it('selects the rows of that local day, as the plain dates do', async () => {
    const newYorkDay = ['dec-1-evening', 'dec-1-morning'];
    expect((await keys(['--config', tzConfig, '--since', '2026-12-01T00:00', '--until', '2026-12-02T00:00'])).keys).toEqual(newYorkDay);
    expect((await keys(['--config', tzConfig, '--since', '2026-12-01 00:00:00', '--until', '2026-12-02'])).keys).toEqual(newYorkDay);
    expect((await keys(['--config', tzConfig, '--since', '2026-12-01', '--until', '2026-12-02'])).keys).toEqual(newYorkDay);
    // With Z or an offset, the instant written.
    expect((await keys(['--config', tzConfig, '--since', '2026-12-01T00:00Z', '--until', '2026-12-02T00:00Z'])).keys).toEqual(['dec-1-morning', 'nov-30-evening']);
  });

  it('is a UTC time with --ledger alone, and says so', async () => {
    const utc = await keys(['--ledger', tzLedger, '--since', '2026-12-01T00:00', '--until', '2026-12-02T00:00']);
    expect(utc.keys).toEqual(['dec-1-morning', 'nov-30-evening']);
    expect(utc.stderr).toContain('days are UTC days');
  });
});
