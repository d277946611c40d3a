// Invariants, checked after the traffic stops: the audit, the ledger against the clients' records, the
// limits against the ledger, the processes' exits and output (crash signs), errors and hangs.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ADMIN_KEY, CALL_TIMEOUT_MS, KEYS } from './config.mjs';

/** The run's verdicts: `results`, and `verdict`/`note`, which record one and print its line. */
export function createVerdicts() {
  const results = [];
  function verdict(name, ok, detail) {
    results.push({ name, ok, detail });
    console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}${detail ? `\n      ${detail.split('\n').join('\n      ')}` : ''}`);
  }
  // Documented behaviour that looks like a failure: reported, not failed.
  function note(name, detail) {
    results.push({ name, ok: true, note: true, detail });
    console.log(`NOTE  ${name}\n      ${detail.split('\n').join('\n      ')}`);
  }
  return { results, verdict, note };
}

/** `tollgate audit --format json` against one gateway: its report, or why there is none. */
function runAudit(CLI, url) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'audit', '--url', url, '--admin-key', ADMIN_KEY, '--format', 'json', '--timeout', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      try {
        resolve({ code, report: JSON.parse(out) });
      } catch {
        resolve({ code, problem: (err || out).trim() });
      }
    });
  });
}

export async function checkAudit({ cfg, fleet, checks }, redisRestarted) {
  const { verdict, note } = checks;
  for (let i = 0; i < fleet.gateways.length; i++) {
    const { code, report, problem } = await runAudit(cfg.CLI, fleet.gateways[i].url);
    if (!report) {
      verdict(`audit of gateway ${i} ran`, false, `exit ${code}: ${problem}`);
      continue;
    }
    const drifting = report.lines.filter((l) => l.drift !== 0);
    const above = drifting.filter((l) => l.drift > 0);
    const below = drifting.filter((l) => l.drift < 0);
    writeFileSync(path.join(cfg.WORK, `audit-gateway-${i}.json`), JSON.stringify(report, null, 2));
    const show = (ls) => ls.map((l) => `${l.limit}: counter ${l.counter}, ledger ${l.ledger}, drift ${l.drift}`).join('\n');
    verdict(`audit of gateway ${i}: no counter above the ledger (${report.lines.length} limits, ${report.openReservations} open reservations)`, above.length === 0, above.length ? show(above) : '');
    // Counters below the ledger after Redis lost its state are documented (README, "tollgate audit"): the
    // usage of other instances' calls that ended before they noticed the loss is not restored.
    if (below.length === 0) verdict(`audit of gateway ${i}: no counter below the ledger`, true);
    else if (redisRestarted) note(`audit of gateway ${i}: ${below.length} counters below the ledger (documented after a Redis restart)`, show(below));
    else verdict(`audit of gateway ${i}: no counter below the ledger`, false, show(below));
  }
}

export async function ledgerRows(sql) {
  return sql.unsafe(
    `SELECT ts, request_id, project, user_id, key_id, key_groups, route, endpoint, status, decision, input_tokens, output_tokens, cost_usd, input_cost_usd FROM tollgate_ledger ORDER BY ts`,
  );
}

export function checkRowsPerCall({ checks: { verdict } }, records, rows) {
  const rowsById = new Map();
  for (const r of rows) rowsById.set(r.request_id, (rowsById.get(r.request_id) ?? 0) + 1);
  const ok2xx = records.filter((r) => r.status >= 200 && r.status < 300);
  const missing = ok2xx.filter((r) => !rowsById.has(r.requestId));
  const noId = ok2xx.filter((r) => !r.requestId);
  const duplicated = [...rowsById].filter(([, n]) => n > 1);
  const sample = (list) => list.slice(0, 5).map((r) => JSON.stringify(r)).join('\n');
  verdict(`every 2xx the clients got has a ledger row (${ok2xx.length} 2xx, ${rows.length} rows)`, missing.length === 0 && noId.length === 0, missing.length ? `${missing.length} without a row:\n${sample(missing)}` : noId.length ? `${noId.length} 2xx without x-tollgate-request-id` : '');
  verdict('no request id has more than one ledger row', duplicated.length === 0, duplicated.length ? duplicated.slice(0, 5).map(([id, n]) => `${id}: ${n} rows`).join('\n') : '');
  // 429s and other refusals of known keys are calls too (decision blocked): each has its row.
  const refused = records.filter((r) => r.status === 429 && r.requestId);
  const refusedMissing = refused.filter((r) => !rowsById.has(r.requestId));
  verdict(`every 429 has a ledger row (${refused.length} 429s)`, refusedMissing.length === 0, refusedMissing.length ? `${refusedMissing.length} without a row:\n${sample(refusedMissing)}` : '');
}

const tokensOf = (r) => Number(r.input_tokens) + Number(r.output_tokens);
const groupsOf = (r) => (typeof r.key_groups === 'string' ? JSON.parse(r.key_groups) : r.key_groups ?? []);

/** The most that any window of `windowMs` holds (rows by ts): fixed windows when `fixed`, else any sliding one. */
function worstWindow(rows, weigh, windowMs, fixed) {
  if (fixed) {
    const per = new Map();
    for (const r of rows) {
      const w = Math.floor(Number(r.ts) / windowMs);
      per.set(w, (per.get(w) ?? 0) + weigh(r));
    }
    return Math.max(0, ...per.values());
  }
  let worst = 0;
  let sum = 0;
  for (let lo = 0, hi = 0; hi < rows.length; hi++) {
    sum += weigh(rows[hi]);
    while (Number(rows[hi].ts) - Number(rows[lo].ts) >= windowMs) sum -= weigh(rows[lo++]);
    worst = Math.max(worst, sum);
  }
  return worst;
}

/** A token bucket of `max` refilled at max per `windowMs`: in any interval [a, b], at most max + (b - a) * max / window. */
function worstBucketExcess(rows, weigh, max, windowMs) {
  let worst = -Infinity;
  for (let i = 0; i < rows.length; i++) {
    let sum = 0;
    for (let j = i; j < rows.length; j++) {
      sum += weigh(rows[j]);
      const allowed = max + ((Number(rows[j].ts) - Number(rows[i].ts)) * max) / windowMs;
      worst = Math.max(worst, sum - allowed);
    }
  }
  return worst;
}

// A row's ts is when its request started; it is admitted a little later (tokenizing, a Redis round trip,
// at most rebuild_wait_ms while counters are rebuilt). Rolling windows are checked over windows this much
// shorter, so that lag cannot make two admissions a window apart look like one window's.
const ADMISSION_LAG_MS = 3000;

export function checkLimits({ cfg: { LIMITS }, checks: { verdict } }, rows) {
  const charged = rows.filter((r) => tokensOf(r) > 0 || Number(r.cost_usd) > 0);
  const served = rows.filter((r) => r.decision === 'admitted' || r.decision === 'clamped');
  const by = (list, f) => {
    const m = new Map();
    for (const r of list) for (const k of [].concat(f(r))) m.set(k, [...(m.get(k) ?? []), r]);
    return m;
  };
  const checks = [];
  const add = (limit, used, max) => checks.push({ limit, used, max });
  const DAY = 86_400_000;
  add('organization daily', worstWindow(charged, tokensOf, DAY, true), LIMITS.orgDaily);
  for (const [p, list] of by(charged, (r) => r.project)) {
    // gateway 0 runs the raised limit after the reload: the largest configured limit is the bound.
    const max = p === 'web' ? Math.max(LIMITS.projectDaily.web, LIMITS.projectWebReloaded) : LIMITS.projectDaily[p];
    add(`project ${p} daily`, worstWindow(list, tokensOf, DAY, true), max);
  }
  const tierOf = Object.fromEntries(KEYS.map((k) => [k.user, k.tier]));
  for (const [u, list] of by(charged, (r) => r.user_id)) add(`user ${u} (${tierOf[u]}) daily`, worstWindow(list, tokensOf, DAY, true), LIMITS.tierDaily[tierOf[u]]);
  for (const [u, list] of by(served, (r) => r.user_id)) add(`user ${u} (${tierOf[u]}) requests per minute`, worstWindow(list, () => 1, 60_000 - ADMISSION_LAG_MS, false), LIMITS.tierRate[tierOf[u]]);
  for (const [g, list] of by(charged, groupsOf)) {
    if (g === 'team') add('group team daily', worstWindow(list, tokensOf, DAY, true), LIMITS.groupDaily.team);
    // In whole nano-dollars: floats summed over thousands of rows drift by 1e-15 either way (0.40500000000000236
    // of 0.40499999999999997 was read as over, 0.5399999999999999 of it rounded up to 0.54).
    const nano = (usd) => Math.round(usd * 1e9);
    if (g === 'spenders') add('group spenders daily (nano-USD)', worstWindow(list, (r) => nano(Number(r.cost_usd)), DAY, true), nano(LIMITS.groupMoneyUsd.spenders));
  }
  const gpt = charged.filter((r) => r.route === 'gpt');
  for (const [k, list] of by(gpt, (r) => r.key_id)) {
    add(`route gpt input, key ${k}, per hour`, worstWindow(list, (r) => Number(r.input_tokens), 3_600_000, true), LIMITS.gptRouteInputPerKeyHour);
    add(`route gpt output, key ${k}, sliding minute`, worstWindow(list, (r) => Number(r.output_tokens), 60_000 - ADMISSION_LAG_MS, false), LIMITS.gptRouteOutputPerKeyMinute);
  }
  const claude = charged.filter((r) => r.route === 'claude');
  const bucketMax = LIMITS.claudeRouteOutputBucket;
  const bucketWindow = LIMITS.claudeRouteOutputBucketWindowMs;
  const excess = worstBucketExcess(claude, (r) => Number(r.output_tokens), bucketMax, bucketWindow);
  add('route claude output, token bucket (worst interval, less its refill)', Math.round(bucketMax + excess - (bucketMax * ADMISSION_LAG_MS) / bucketWindow), bucketMax);
  const over = checks.filter((c) => c.used > c.max);
  const table = checks.map((c) => `${c.used > c.max ? 'OVER' : '    '} ${c.limit}: ${c.used} of ${c.max}`).join('\n');
  verdict(`no limit admitted more than its limit (${checks.length} limits)`, over.length === 0, table);
  return checks;
}

// Error-level log lines that an injected fault explains: the ledger's connections were terminated.
// A gateway restarted just before a kill (its start-up rebuild's read cut) keeps the counters Redis has.
const EXPLAINED_ERRORS = [/ledger write failed; rows are kept and retried/, /could not rebuild counters from the ledger/];

/** Uncaught exceptions, stack traces, fatal lines, and error-level lines no fault explains. */
function crashSigns(output) {
  return output.split('\n').filter((l) => {
    if (/Uncaught|unhandled|^\s+at .+:\d+:\d+\)?$|TypeError|ReferenceError|RangeError|"level":60/.test(l)) return true;
    return /"level":50/.test(l) && !EXPLAINED_ERRORS.some((re) => re.test(l));
  });
}

export function checkProcesses({ fleet, checks: { verdict, note } }, allGatewayRuns) {
  const badExits = fleet.exits.filter((e) => e.code !== 0);
  verdict(`every gateway exited 0 on SIGTERM (${fleet.exits.length} stops)`, badExits.length === 0, badExits.map((e) => JSON.stringify(e)).join('\n'));
  const signs = allGatewayRuns.flatMap((g) => crashSigns(g.output).map((l) => `${g.name}: ${l.slice(0, 400)}`));
  verdict('no uncaught exception, stack trace or unexplained error-level log line in any gateway output', signs.length === 0, signs.slice(0, 15).join('\n'));
  const explained = allGatewayRuns.flatMap((g) => g.output.split('\n').filter((l) => /"level":50/.test(l) && EXPLAINED_ERRORS.some((re) => re.test(l))));
  if (explained.length) note(`${explained.length} error-level log lines explained by the ledger connection kills`, explained.slice(0, 3).map((l) => l.slice(0, 300)).join('\n'));
  const unexpected = allGatewayRuns.filter((g) => g.exit && !g.stopping);
  verdict('no gateway died during the run', unexpected.length === 0, unexpected.map((g) => `${g.name}: ${JSON.stringify(g.exit)}`).join('\n'));
}

/** 5xx answers and failed connections outside the fault windows (Redis down and rebuilding, a gateway stopping). */
export function checkErrorsExplained({ faults, checks: { verdict } }, records) {
  const inWindow = (r) => faults.windows.some((w) => r.sentAt + r.ms >= w.from && r.sentAt <= w.to && (!w.gateway || w.gateway === r.gateway));
  const errors = records.filter((r) => !r.hung && (r.status === 0 || r.status >= 500));
  const unexplained = errors.filter((r) => !inWindow(r));
  verdict(`every 5xx or failed connection falls in a fault window (${errors.length} in all)`, unexplained.length === 0, unexplained.slice(0, 8).map((r) => JSON.stringify(r)).join('\n'));
}

export function checkNoHang({ checks: { verdict } }, records) {
  const hung = records.filter((r) => r.hung);
  const slowest = records.reduce((a, r) => Math.max(a, r.ms), 0);
  verdict(`no client call hung (slowest ${slowest} ms, limit ${CALL_TIMEOUT_MS} ms)`, hung.length === 0, hung.slice(0, 5).map((r) => JSON.stringify(r)).join('\n'));
}
