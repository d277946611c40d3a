// Regression tests from a QA pass: the counter rebuild and `tollgate audit` charged a key's ledger rows to
// wherever the key's current config put it, not to the project, user and groups each row recorded. Moving a
// key from p to q charged q with what it had spent in p (counted twice); removing a key and restarting with
// memory counters handed its project a fresh daily budget (6 more calls: 2x the limit in one day); removing
// a key made `tollgate audit` report drift and exit 2. Real gateway processes from dist/, both ledgers.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditReport } from '../src/ledger/audit.js';
import { LEDGER_KINDS, type LedgerPlace } from './helpers/ledgers.js';
import { CLI, startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const ADMIN = 'recorded-owner-admin';

/** Projects p and q; `keys` lists the keys (YAML flow maps), so a reload can move or drop one. */
const config = (ledger: string, keys: string[]): string => `
server: {timezone: UTC, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
ledger: {flush_interval_ms: 20}
enforcement: {clamp_max_tokens: false}
providers: {demo: {type: mock, output_tokens: 10}}
projects:
  p: {daily_limit: 200}
  q: {daily_limit: 100000}
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

describe.each(LEDGER_KINDS)('rows count where they were recorded: $kind', ({ place: makePlace }) => {
  let place: LedgerPlace | undefined;
  const running: RunningProcess[] = [];
  const start = async (file: string): Promise<RunningProcess> => {
    const gw = await startCli(['serve', '--config', file, '--port', '0']);
    running.push(gw);
    return gw;
  };
  afterEach(async () => {
    for (const gw of running.splice(0)) await gw.stop();
    await place?.drop();
    place = undefined;
  });

  it('never gives a project a fresh budget when a key that spent it is removed and the gateway restarts', async () => {
    place = await makePlace();
    const file = writeConfig(config(place.url, ['{id: spender, key: tg-spender, project: p}', '{id: stayer, key: tg-stayer, project: p}']));
    const first = await start(file);
    const spent = await spendAll(first, 'tg-spender');
    expect(spent.refusal).toBe(429);
    expect(spent.calls).toBeGreaterThan(2);
    expect(spent.tokens).toBeLessThanOrEqual(200);
    await first.stop();

    // The spender's key is gone; memory counters start empty and are rebuilt from the ledger.
    writeFileSync(file, config(place.url, ['{id: stayer, key: tg-stayer, project: p}']));
    const second = await start(file);
    const more = await spendAll(second, 'tg-stayer');
    // Before the fix: as many calls again as the whole day's limit allowed (200 tokens' worth twice).
    expect(more.calls).toBe(0);
    expect(spent.tokens + more.tokens).toBeLessThanOrEqual(200);
    const line = (await audit(second)).lines.find((l) => l.limit === 'project:p:daily');
    expect(line).toMatchObject({ ledger: spent.tokens, counter: spent.tokens, drift: 0 });
  });

  it('keeps what a moved key spent in its old project, not in its new one', async () => {
    place = await makePlace();
    const file = writeConfig(config(place.url, ['{id: mover, key: tg-mover, project: p}', '{id: qkey, key: tg-q, project: q}']));
    const gw = await start(file);
    let inP = 0;
    for (let i = 0; i < 3; i++) inP += (await call(gw, 'tg-mover')).tokens;
    expect(inP).toBeGreaterThan(0);

    // The mover goes to q; a new key `probe` says when the new config is in force.
    await reload(gw, file, config(place.url, ['{id: mover, key: tg-mover, project: q}', '{id: qkey, key: tg-q, project: q}', '{id: probe, key: tg-probe}']), 'tg-probe', 200);
    const inQ = (await call(gw, 'tg-mover')).tokens;
    const report = await audit(gw);
    const lines = new Map(report.lines.map((l) => [l.limit, l]));
    // Before the fix: q's counter was raised to what the mover spent in p, which p's counter still holds too.
    expect(lines.get('project:q:daily')).toMatchObject({ counter: inQ, ledger: inQ, drift: 0 });
    expect(lines.get('project:p:daily')).toMatchObject({ counter: inP, ledger: inP, drift: 0 });
    expect(report.drifting).toBe(0);
  });

  it('reports no drift after a key that spent is removed', async () => {
    place = await makePlace();
    const file = writeConfig(config(place.url, ['{id: gone, key: tg-gone, project: p}', '{id: stayer, key: tg-stayer, project: p}']));
    const gw = await start(file);
    let spent = (await call(gw, 'tg-stayer')).tokens;
    for (let i = 0; i < 3; i++) spent += (await call(gw, 'tg-gone')).tokens;
    // A new key `probe` says when the new config is in force (a probe with the removed key would spend meanwhile).
    await reload(gw, file, config(place.url, ['{id: stayer, key: tg-stayer, project: p}', '{id: probe, key: tg-probe}']), 'tg-probe', 200);
    expect((await call(gw, 'tg-gone')).status).toBe(401);
    // Before the fix: the removed key's rows were left out of the ledger's sums, the counters kept them: exit 2.
    const cli = await auditCli(gw);
    expect(cli.stdout, cli.stderr).toMatch(/0 drifting/);
    expect(cli.code).toBe(0);
    const line = (await audit(gw)).lines.find((l) => l.limit === 'project:p:daily');
    expect(line).toMatchObject({ counter: spent, ledger: spent, drift: 0 });
  });
});
