// Regression tests from a QA pass: the counter rebuild and `tollgate audit` charged a key's ledger rows to
// wherever the key's current config put it, not to the project, user and groups each row recorded. Moving a
// key from p to q charged q with what it had spent in p (counted twice); removing a key and restarting with
// memory counters handed its project a fresh daily budget (6 more calls: 2x the limit in one day); removing
// a key made `tollgate audit` report drift and exit 2. Real gateway processes from dist/, both ledgers.
//
// Run time (12-07; CI: 46.6 s with 8 gateway starts, one after another): nearly all of it is gateways
// starting (2-3 s of CPU each, module loading and tokenizer tables; 6-10 s each on a loaded 2-core host).
// Each ledger's three tests now share one gateway, started in beforeAll, a project each (p and q for the
// moved key, r for the removed one, s for the restart): the moved-key and removed-key tests reload it, one
// after the other (each reload writes the whole config, so a test failing before its reload leaves the
// next one's config right); the restart test runs last (it.sequential, in file order) and restarts it
// (run alone, -t, it restarts the gateway beforeAll started). That is 2 gateway starts per ledger instead
// of 4, and the two ledgers' tests run side by side (describe.concurrent.each).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../src/ledger/audit.js';
import { LEDGER_KINDS, type LedgerPlace } from './helpers/ledgers.js';
import { CLI, startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const ADMIN = 'recorded-owner-admin';
// The two ledgers' gateways start at the same time, sharing two cores (6-10 s for one start on a host loaded
// by other test processes, 12-07; two at once took more than startCli's 15 s there): the starts, and the
// hook and the test that start one, wait longer.
const START_MS = 60_000;
const STARTING_MS = START_MS + 30_000;

/** Projects p, q, r and s; `keys` lists the keys (YAML flow maps), so a reload can move or drop one. */
const config = (ledger: string, keys: string[]): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
ledger: {flush_interval_ms: 20}
enforcement: {clamp_max_tokens: false}
providers: {demo: {type: mock, output_tokens: 10}}
projects:
  p: {daily_limit: 200}
  q: {daily_limit: 100000}
  r: {daily_limit: 200}
  s: {daily_limit: 200}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys:
${keys.map((k) => `  - ${k}`).join('\n')}
`;

async function call(gw: RunningProcess, key: string): Promise<{ status: number; tokens: number }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
  });
  const body = (await res.json()) as { usage?: { total_tokens: number } };
  return { status: res.status, tokens: body.usage?.total_tokens ?? 0 };
}

/** Calls with `key` until refused: the tokens admitted and how many calls. */
async function spendAll(gw: RunningProcess, key: string): Promise<{ calls: number; tokens: number; refusal: number }> {
  let calls = 0;
  let tokens = 0;
  for (;;) {
    const r = await call(gw, key);
    if (r.status !== 200) return { calls, tokens, refusal: r.status };
    calls++;
    tokens += r.tokens;
    if (calls > 100) throw new Error('never refused');
  }
}

async function until(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Rewrites the config and reloads; waits until `probeKey` answers `probeStatus` (the new config is in force). */
async function reload(gw: RunningProcess, file: string, text: string, probeKey: string, probeStatus: number): Promise<void> {
  writeFileSync(file, text);
  gw.child.kill('SIGHUP');
  expect(await until(async () => (await call(gw, probeKey)).status === probeStatus), gw.output()).toBe(true);
}

async function audit(gw: RunningProcess): Promise<AuditReport> {
  return (await fetch(`${gw.url}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } })).json() as Promise<AuditReport>;
}

function auditCli(gw: RunningProcess): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'audit', '--url', gw.url], { env: { ...process.env, TOLLGATE_ADMIN_KEY: ADMIN } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
    );
  });
}

/**
 * The keys of the shared gateway's configs: the mover in p (then in q, with qkey), `gone` and `stays` in r,
 * the spender and the stayer in s; a probe per reload, with no project.
 */
const KEYS = {
  mover: '{id: mover, key: tg-mover, project: p}',
  moved: '{id: mover, key: tg-mover, project: q}',
  qkey: '{id: qkey, key: tg-q, project: q}',
  gone: '{id: gone, key: tg-gone, project: r}',
  stays: '{id: stays, key: tg-stays, project: r}',
  spender: '{id: spender, key: tg-spender, project: s}',
  stayer: '{id: stayer, key: tg-stayer, project: s}',
  probe: '{id: probe, key: tg-probe}',
  removalProbe: '{id: probe-removal, key: tg-probe-removal}',
};

describe.concurrent.each(LEDGER_KINDS)('rows count where they were recorded: $kind', ({ place: makePlace }) => {
  let place: LedgerPlace | undefined;
  let file = '';
  // The gateway of all three tests; the restart test stops it and starts `restarted` on the same ledger.
  let shared: RunningProcess | undefined;
  let restarted: RunningProcess | undefined;
  beforeAll(async () => {
    place = await makePlace();
    file = writeConfig(config(place.url, [KEYS.mover, KEYS.qkey, KEYS.gone, KEYS.stays, KEYS.spender, KEYS.stayer]));
    shared = await startCli(['serve', '--config', file, '--port', '0'], {}, START_MS);
  }, STARTING_MS);
  afterAll(async () => {
    await shared?.stop();
    await restarted?.stop();
    await place?.drop();
  });

  it.sequential('keeps what a moved key spent in its old project, not in its new one', async () => {
    const gw = shared!;
    let inP = 0;
    for (let i = 0; i < 3; i++) inP += (await call(gw, 'tg-mover')).tokens;
    expect(inP).toBeGreaterThan(0);

    // The mover goes to q; a new key `probe` says when the new config is in force.
    await reload(gw, file, config(place!.url, [KEYS.moved, KEYS.qkey, KEYS.gone, KEYS.stays, KEYS.spender, KEYS.stayer, KEYS.probe]), 'tg-probe', 200);
    const inQ = (await call(gw, 'tg-mover')).tokens;
    const report = await audit(gw);
    const lines = new Map(report.lines.map((l) => [l.limit, l]));
    // Before the fix: q's counter was raised to what the mover spent in p, which p's counter still holds too.
    expect(lines.get('project:q:daily')).toMatchObject({ counter: inQ, ledger: inQ, drift: 0 });
    expect(lines.get('project:p:daily')).toMatchObject({ counter: inP, ledger: inP, drift: 0 });
    expect(report.drifting).toBe(0);
  });

  it.sequential('reports no drift after a key that spent is removed', async () => {
    const gw = shared!;
    let spent = (await call(gw, 'tg-stays')).tokens;
    for (let i = 0; i < 3; i++) spent += (await call(gw, 'tg-gone')).tokens;
    // A new key `probe-removal` says when the new config is in force (a probe with the removed key would spend meanwhile).
    await reload(gw, file, config(place!.url, [KEYS.moved, KEYS.qkey, KEYS.stays, KEYS.spender, KEYS.stayer, KEYS.probe, KEYS.removalProbe]), 'tg-probe-removal', 200);
    expect((await call(gw, 'tg-gone')).status).toBe(401);
    // Before the fix: the removed key's rows were left out of the ledger's sums, the counters kept them: exit 2.
    const cli = await auditCli(gw);
    expect(cli.stdout, cli.stderr).toMatch(/0 drifting/);
    expect(cli.code).toBe(0);
    const line = (await audit(gw)).lines.find((l) => l.limit === 'project:r:daily');
    expect(line).toMatchObject({ counter: spent, ledger: spent, drift: 0 });
  });

  it.sequential('never gives a project a fresh budget when a key that spent it is removed and the gateway restarts', async () => {
    const first = shared!;
    const spent = await spendAll(first, 'tg-spender');
    expect(spent.refusal).toBe(429);
    expect(spent.calls).toBeGreaterThan(2);
    expect(spent.tokens).toBeLessThanOrEqual(200);
    await first.stop();

    // The spender's key is gone; memory counters start empty and are rebuilt from the ledger.
    writeFileSync(file, config(place!.url, [KEYS.stayer]));
    const second = (restarted = await startCli(['serve', '--config', file, '--port', '0'], {}, START_MS));
    const more = await spendAll(second, 'tg-stayer');
    // Before the fix: as many calls again as the whole day's limit allowed (200 tokens' worth twice).
    expect(more.calls).toBe(0);
    expect(spent.tokens + more.tokens).toBeLessThanOrEqual(200);
    const line = (await audit(second)).lines.find((l) => l.limit === 'project:s:daily');
    expect(line).toMatchObject({ ledger: spent.tokens, counter: spent.tokens, drift: 0 });
  }, STARTING_MS);
});
