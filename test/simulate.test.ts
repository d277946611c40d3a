// `tollgate simulate`: a seeded ledger replayed against a proposed configuration, with figures worked out by
// hand: which calls its limits would refuse, by which limit, whose; daily windows rolling over; a managed
// key's tier (from the ledger's key table) applied; paging through many rows sharing one millisecond.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '../src/analytics/simulate.js';
import { withManagedKeys } from '../src/auth/managed-key.js';
import type { Ledger, LedgerRow } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { load } from './helpers/config-texts.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { CLI, writeConfig } from './helpers/processes.js';
import { sampleRow } from './helpers/sample-row.js';

const run = promisify(execFile);
const DAY1 = Date.UTC(2026, 11, 1, 9);
const DAY2 = Date.UTC(2026, 11, 2, 9);

const config = (ledgerUrl: string, trialDaily: number): string => `
storage: {ledger: "${ledgerUrl}"}
enforcement: {clamp_max_tokens: false}
users: {trial: {daily_limit: ${trialDaily}}}
projects: {web: {daily_limit: 100000}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: openai/gpt-4o}]}}
keys: [{id: a, key: tg-a, user: ann, tier: trial, project: web}, {id: b, key: tg-b, user: ben, project: web}]
`;

/** A served call: 100 input and 50 output tokens used, 100 output allowed (so 200 reserved). */
function call(keyId: string, user: string, ts: number, over: Partial<LedgerRow> = {}): LedgerRow {
  return sampleRow({
    ts, keyId, user, organization: 'default', project: 'web', groups: [], route: 'main', modelId: 'gpt-4o', provider: 'openai', model: 'gpt-4o', decision: 'admitted',
    inputTokens: 100, outputTokens: 50, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, reservedInput: 100, reservedOutput: 100, costUsd: 0.001, serviceTier: null, ...over,
  });
}

let place: LedgerPlace;
let ledger: Ledger;
const rows: LedgerRow[] = [];

beforeAll(async () => {
  place = sqlitePlace();
  ledger = await openLedger(place.url);
  for (let i = 0; i < 5; i++) rows.push(call('a', 'ann', DAY1 + i * 60_000));
  for (let i = 0; i < 5; i++) rows.push(call('b', 'ben', DAY1 + i * 60_000 + 1));
  for (let i = 0; i < 5; i++) rows.push(call('m', 'mia', DAY1 + i * 60_000 + 2));
  for (let i = 0; i < 2; i++) rows.push(call('a', 'ann', DAY2 + i * 60_000));
  // Refused at the time (nothing reserved, nothing used), and a request the limits never saw.
  rows.push(call('a', 'ann', DAY1 + 30_000, { decision: 'blocked', status: 429, reservedInput: 0, reservedOutput: 0, inputTokens: 0, outputTokens: 0 }));
  rows.push(call('a', 'ann', DAY1 + 40_000, { decision: 'failed', status: 400, reservedInput: 0, reservedOutput: 0, inputTokens: 0, outputTokens: 0 }));
  await ledger.append(rows);
  // Mia's key was made through the admin API: only the ledger's key table says she is on the trial tier.
  await ledger.keys!.insertKey({
    id: 'm', sha256: 'a'.repeat(64), hint: 'tg-m...', organization: 'default', project: 'web', user: 'mia', tier: 'trial', groups: [], routes: null,
    createdAt: DAY1 - 1000, revokedAt: null, previousSha256: null, previousUntil: null, expiresAt: null, updatedAt: DAY1 - 1000,
  });
});
afterAll(async () => {
  await ledger?.close();
  await place?.drop();
});

describe('simulate', () => {
  it('refuses, by the limit that would have, the calls past a lowered tier limit; the next day starts afresh', async () => {
    const proposed = withManagedKeys(load(config(place.url, 500)), await ledger.keys!.listKeys()).policy;
    const report = await simulate(ledger, proposed, Date.UTC(2026, 11, 1), Date.UTC(2026, 11, 3));
    // Ann and Mia (trial, 500 a day): calls reserve 200 and use 150, so three fit (450) and the fourth
    // (450 + 200) does not; Ben has no tier. On day 2 Ann's two calls fit again.
    expect(report).toMatchObject({ replayed: 17, admitted: 13, clamped: 0, refused: 4, refusedTokens: 600, refusedAtTheTime: 1, notReplayed: 1, unjudged: {} });
    expect(report.refusedCostUsd).toBeCloseTo(0.004, 9);
    expect(report.byLimit).toEqual([
      { limit: 'user:ann:daily', calls: 2, tokens: 300, costUsd: expect.closeTo(0.002, 9), firstAtMs: DAY1 + 3 * 60_000, users: 1, topUsers: [{ organization: 'default', user: 'ann', calls: 2 }] },
      { limit: 'user:mia:daily', calls: 2, tokens: 300, costUsd: expect.closeTo(0.002, 9), firstAtMs: DAY1 + 3 * 60_000 + 2, users: 1, topUsers: [{ organization: 'default', user: 'mia', calls: 2 }] },
    ]);
  });

  it('names the users a shared limit would refuse most, most first', async () => {
    const policy = withManagedKeys(load(config(place.url, 100_000).replace('web: {daily_limit: 100000}', 'web: {daily_limit: 1000}')), await ledger.keys!.listKeys()).policy;
    const report = await simulate(ledger, policy, Date.UTC(2026, 11, 1), Date.UTC(2026, 11, 3));
    // 1,000 a day for the project: six calls fit (900 used; a seventh would need 1,100), the first two minutes'
    // calls of Ann, Ben and Mia; their other nine that day are refused. Day 2's two fit again.
    expect(report.byLimit).toEqual([
      {
        limit: 'project:web:daily', calls: 9, tokens: 1350, costUsd: expect.closeTo(0.009, 9), firstAtMs: DAY1 + 2 * 60_000, users: 3,
        topUsers: ['ann', 'ben', 'mia'].map((user) => ({ organization: 'default', user, calls: 3 })),
      },
    ]);
    expect(report).toMatchObject({ admitted: 8, refused: 9 });
  });

  it('refuses nothing under limits the calls fit, and judges only the period asked for', async () => {
    const roomy = await simulate(ledger, load(config(place.url, 100_000)), Date.UTC(2026, 11, 1), Date.UTC(2026, 11, 3));
    expect(roomy).toMatchObject({ replayed: 17, admitted: 17, refused: 0, byLimit: [] });
    const day2 = await simulate(ledger, load(config(place.url, 500)), Date.UTC(2026, 11, 2), Date.UTC(2026, 11, 3));
    expect(day2).toMatchObject({ replayed: 2, admitted: 2, refused: 0 });
  });

  it('pages through more rows than one read takes, many at one millisecond, each once', async () => {
    const other = sqlitePlace();
    const many = await openLedger(other.url);
    try {
      const ts = Date.UTC(2026, 11, 5, 12);
      // 12,007 calls: 7,000 at one millisecond (past a page of 5,000), the rest a millisecond apart.
      const bulk = [...Array.from({ length: 7000 }, () => call('b', 'ben', ts)), ...Array.from({ length: 5007 }, (_, i) => call('b', 'ben', ts + 1 + i))];
      await many.append(bulk);
      const policy = load(config(other.url, 500).replace('web: {daily_limit: 100000}', 'web: {daily_limit: 1000000000}'));
      const report = await simulate(many, policy, ts, ts + 86_400_000);
      expect(report).toMatchObject({ replayed: 12_007, admitted: 12_007, refused: 0 });
      // The project's limit, lowered to 100,000 tokens (reserving 200 each, 150 used): calls 1-666 fit (99,900 used).
      const tight = await simulate(many, load(config(other.url, 500).replace('users: {trial: {daily_limit: 500}}', 'users: {}').replace(', tier: trial', '')), ts, ts + 86_400_000);
      expect(tight.byLimit.map((l) => [l.limit, l.calls])).toEqual([['project:web:daily', 12_007 - 666]]);
    } finally {
      await many.close();
      await other.drop();
    }
  }, 60_000);
});

describe('tollgate simulate', () => {
  const simulateCli = (yaml: string, ...args: string[]) =>
    run(process.execPath, [CLI, 'simulate', '--config', writeConfig(yaml), '--since', '2026-12-01', '--until', '2026-12-03', ...args]).then(
      (r) => ({ code: 0, ...r }),
      (err) => ({ code: err.code as number, stdout: err.stdout as string, stderr: err.stderr as string }),
    );

  it('prints what would have been refused, by limit, and exits 2; 0 when nothing would be', async () => {
    const tight = await simulateCli(config(place.url, 500));
    expect(tight.code).toBe(2);
    expect(tight.stdout).toContain('replayed 17 calls from 2026-12-01T00:00:00.000Z to 2026-12-03T00:00:00.000Z against the proposed configuration');
    expect(tight.stdout).toContain('it would admit 13, clamp 0 (a lower max_tokens) and refuse 4 (600 tokens, $0.004000 as recorded)');
    expect(tight.stdout).toContain('not replayed: 1 call refused at the time (what they asked for is not recorded), 1 that never reached the limits');
    expect(tight.stdout).toMatch(/^user:ann:daily +2 +300 +0\.002000 +1 +2026-12-01T09:03:00\.000Z +ann \(2\)$/m);
    // Mia's tier is in the ledger's key table, which the command reads.
    expect(tight.stdout).toMatch(/^user:mia:daily +2 +300 /m);

    const json = JSON.parse((await simulateCli(config(place.url, 500), '--format', 'json')).stdout);
    expect(json).toMatchObject({ replayed: 17, refused: 4, refusedAtTheTime: 1 });
    expect(json.byLimit.map((l: { limit: string }) => l.limit)).toEqual(['user:ann:daily', 'user:mia:daily']);

    const roomy = await simulateCli(config(place.url, 100_000));
    expect(roomy.code).toBe(0);
    expect(roomy.stdout).toContain('it would admit 17, clamp 0 (a lower max_tokens) and refuse 0');
  }, 30_000);

  it('fails with one line and exit 1 on a bad period or format, or a ledger that is not there', async () => {
    const bad = await simulateCli(config(place.url, 500), '--format', 'csv');
    expect([bad.code, bad.stderr.trim()]).toEqual([1, "tollgate simulate: --format must be table or json, not 'csv'"]);
    const empty = await run(process.execPath, [CLI, 'simulate', '--config', writeConfig(config(place.url, 500)), '--since', '2026-12-03', '--until', '2026-12-01']).catch((e) => e);
    expect([empty.code, empty.stderr.trim()]).toEqual([1, 'tollgate simulate: --since 2026-12-03 is not before --until 2026-12-01: the period is empty']);
    const missing = await simulateCli(config('sqlite:/nonexistent/ledger.db', 500));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^tollgate simulate: no ledger at \/nonexistent\/ledger\.db: the file does not exist$/);
  }, 30_000);
});
