// The web dashboard (`GET /dashboard`): one self-contained page, no build step and no outside assets,
// drawing the dashboard API's JSON (burn rate per day, limits and how close each is, breakdowns,
// alerts, recommendations). The page itself holds no data: it asks for the admin key and fetches.
import type { FastifyInstance } from 'fastify';
import { pct } from '../analytics/dashboard.js';
import { FORMAT_USD_SCRIPT } from '../util/format-usd.js';

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tollgate · usage</title>
<link rel="icon" href="data:,">
<style>
  :root { --fg: #1d2330; --muted: #6b7280; --line: #e5e7eb; --bar: #3b6fd8; --warn: #d97706; --crit: #dc2626; --ok: #16a34a; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0; background: #f7f8fa; }
  header { display: flex; gap: 12px; align-items: center; padding: 12px 24px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 16px; margin: 0 16px 0 0; }
  header input { padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; }
  header button { padding: 5px 12px; border: 0; border-radius: 6px; background: var(--bar); color: #fff; cursor: pointer; }
  main { padding: 20px 24px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); }
  section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 10px; }
  .figure { font-size: 24px; font-weight: 600; }
  .sub { color: var(--muted); }
  .meter { height: 10px; background: var(--line); border-radius: 5px; overflow: hidden; margin: 4px 0 10px; }
  .meter div { height: 100%; background: var(--ok); }
  table { width: 100%; border-collapse: collapse; }
  td, th { text-align: right; padding: 4px 6px; border-bottom: 1px solid var(--line); }
  td:first-child, th:first-child { text-align: left; }
  .alert { padding: 6px 10px; border-left: 4px solid var(--warn); background: #fffbeb; margin-bottom: 6px; }
  .alert.critical { border-color: var(--crit); background: #fef2f2; }
  #error { color: var(--crit); }
  #shown { grid-column: 1 / -1; }
  svg text { font-size: 10px; fill: var(--muted); }
</style>
</head>
<body>
<header>
  <h1>Tollgate usage</h1>
  <label>organization <input id="org" size="12" placeholder="default"></label>
  <label>admin key <input id="key" type="password" size="24"></label>
  <button id="load">Show</button>
  <span id="error"></span>
</header>
<main id="main"></main>
<script>
const $ = (id) => document.getElementById(id);
const fmt = (n) => Math.round(n).toLocaleString('en-US');
// formatUsd, formatUsdPair and pct: money and shares are written as the API's messages write them.
${FORMAT_USD_SCRIPT}
${pct}
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
// An organization in the address (a bookmark, a link) wins over the one this tab looked at last.
$('org').value = new URLSearchParams(location.search).get('org') ?? sessionStorage.getItem('tg-org') ?? '';
// A key in the URL fragment (#key=...) never reaches a server or its logs; it is moved out of the address bar at once.
// Read as written, '%xx' escapes decoded: URLSearchParams would read each '+' of a base64 key as a space.
const hashKey = /(?:^#|&)key=([^&]*)/.exec(location.hash)?.[1];
const fromHash = hashKey === undefined ? null : (() => { try { return decodeURIComponent(hashKey); } catch { return hashKey; } })();
if (fromHash) history.replaceState(null, '', location.pathname + location.search);
$('key').value = fromHash || sessionStorage.getItem('tg-key') || '';
$('load').onclick = load;
for (const id of ['org', 'key']) $(id).addEventListener('keydown', (e) => { if (e.key === 'Enter') load(); });
if ($('key').value) load();

async function load() {
  sessionStorage.setItem('tg-org', $('org').value);
  sessionStorage.setItem('tg-key', $('key').value);
  $('error').textContent = '';
  // The page's own ?top= (how many entries each breakdown lists) is passed on to the API.
  const params = new URLSearchParams();
  if ($('org').value) params.set('org', $('org').value);
  const top = new URLSearchParams(location.search).get('top');
  if (top) params.set('top', top);
  const q = params.size > 0 ? '?' + params : '';
  // A network failure or a reply that is not the API's JSON (a proxy's HTML error page) is said, not thrown.
  let res, body;
  try {
    res = await fetch('/api/tokens/dashboard' + q, { headers: { authorization: 'Bearer ' + $('key').value } });
    body = await res.json().catch(() => undefined);
  } catch (err) {
    fail('Could not reach the gateway: ' + err.message);
    return;
  }
  if (!res.ok || !body) { fail(body && body.error ? body.error.message : 'HTTP ' + res.status + (body ? '' : " (not the dashboard API's JSON)")); return; }
  render(body);
}

// The figures on screen are always those of the organization asked for last: after a failed load, the
// previous organization's would otherwise stay under the name just typed.
function fail(message) {
  $('error').textContent = message;
  $('main').innerHTML = '';
}

// When the figures were read, in the gateway's time zone (server.timezone), where "today" and "this month" start.
function asOf(d) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat('en-US', { timeZone: d.timezone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).formatToParts(new Date(d.generated_at))) parts[p.type] = p.value;
  return parts.year + '-' + parts.month + '-' + parts.day + ' ' + parts.hour + ':' + parts.minute + ' ' + d.timezone;
}

function card(title, u, extra) {
  return '<section><h2>' + title + '</h2><div class="figure">' + fmt(u.tokens) + ' tokens</div><div class="sub">' + formatUsd(u.cost_usd) +
    (u.requests !== undefined ? ' · ' + fmt(u.requests) + (u.requests === 1 ? ' request' : ' requests') : '') + (extra || '') + '</div></section>';
}

function meter(label, used, max, unit) {
  const u = max > 0 ? used / max : 0;
  const color = u >= 1 ? 'var(--crit)' : u >= 0.8 ? 'var(--warn)' : 'var(--ok)';
  // Two different dollar amounts never read the same ("$0.009998 of $0.01").
  const [shownUsed, shownMax] = unit === 'usd' ? formatUsdPair(used, max) : [fmt(used), fmt(max)];
  return '<div>' + esc(label) + ' <span class="sub">' + shownUsed + ' of ' + shownMax + ' (' + pct(u) + ')</span></div>' +
    '<div class="meter"><div style="width:' + Math.min(100, u * 100) + '%;background:' + color + '"></div></div>';
}

function chart(days) {
  // The scale reads the tallest bar (0 without calls); bars are drawn against at least 1, never divided by 0.
  const tallest = Math.max(0, ...days.map((d) => d.tokens));
  const w = 900, h = 180, pad = 28, max = Math.max(1, tallest);
  const bw = (w - pad) / Math.max(1, days.length);
  let bars = '';
  days.forEach((d, i) => {
    const bh = (d.tokens / max) * (h - 30);
    const x = pad + i * bw;
    bars += '<rect x="' + (x + 1) + '" y="' + (h - 18 - bh) + '" width="' + Math.max(1, bw - 2) + '" height="' + bh + '" fill="var(--bar)"><title>' +
      d.date + ': ' + fmt(d.tokens) + ' tokens, ' + formatUsd(d.cost_usd) + '</title></rect>';
    if (i % 7 === 0 || i === days.length - 1) bars += '<text x="' + x + '" y="' + (h - 4) + '">' + d.date.slice(5) + '</text>';
  });
  return '<svg viewBox="0 0 ' + w + ' ' + h + '" width="100%" role="img" aria-label="tokens per day">' +
    '<text x="0" y="10">' + fmt(tallest) + '</text>' + bars + '</svg>';
}

function breakdown(title, rows, key) {
  if (!rows.length) return '';
  return '<section><h2>' + title + '</h2><table><tr><th>' + key + '</th><th>tokens</th><th>cost</th><th>requests</th></tr>' +
    rows.map((r) => '<tr' + (r.others !== undefined ? ' class="others"' : '') + '><td>' + esc(r.others !== undefined ? fmt(r.others) + ' other' + (r.others === 1 ? '' : 's') : r[key] ?? '(none)') + '</td><td>' + fmt(r.tokens) + '</td><td>' + formatUsd(r.cost_usd) + '</td><td>' + fmt(r.requests) + '</td></tr>').join('') +
    '</table></section>';
}

function render(d) {
  const cu = d.current_usage, l = d.limits;
  let limits = '';
  if (l.daily) limits += meter('daily (' + l.daily.limit + ')', l.daily.used, l.daily.max, l.daily.unit);
  if (l.monthly) limits += meter('monthly (' + l.monthly.limit + ')', l.monthly.used, l.monthly.max, l.monthly.unit);
  if (l.monthly) limits += meter('projected month', l.monthly.unit === 'usd' ? cu.projected_monthly.cost_usd : cu.projected_monthly.tokens, l.monthly.max, l.monthly.unit);
  const alerts = (d.alerts.map((a) => '<div class="alert ' + a.level + '">' + esc(a.message) + '</div>').join('') || '<div class="sub">No active alerts.</div>') +
    (d.alerts_omitted > 0 ? '<div class="sub" id="alerts-omitted">' + fmt(d.alerts_omitted) + ' more limit' + (d.alerts_omitted === 1 ? ' is' : 's are') + ' past a threshold (the most pressing are shown).</div>' : '');
  const tips = d.recommendations.map((r) => '<div class="alert" style="border-color:var(--bar);background:#eff6ff">' + esc(r.message) + '</div>').join('') || '<div class="sub">Nothing to suggest.</div>';
  $('main').innerHTML =
    '<div id="shown" class="sub">' + esc(d.organization) + ' · as of ' + esc(asOf(d)) + ' (days and months start at midnight there)</div>' +
    card('Today', cu.today) + card('This month', cu.this_month) +
    card('Projected month', cu.projected_monthly, ' · method: ' + esc(cu.projected_monthly.method)) +
    '<section class="wide"><h2>Tokens per day (burn rate)</h2>' + chart(d.history || []) + '</section>' +
    '<section><h2>Limits</h2>' + (limits || '<div class="sub">No organization limits.</div>') + '</section>' +
    '<section><h2>Alerts</h2>' + alerts + '</section>' +
    '<section><h2>Recommendations</h2>' + tips + '</section>' +
    breakdown('By project', d.breakdown.by_project, 'project') + breakdown('By model', d.breakdown.by_model, 'model') + breakdown('By user', d.breakdown.by_user, 'user');
}
</script>
</body>
</html>
`;

/** Registers `GET /dashboard`, the web page over the dashboard API. */
export function webRoutes(): (app: FastifyInstance) => void {
  return (app) => {
    // The page runs only its own inline script and fetches only this origin; it is never framed (clickjacking).
    app.get('/dashboard', async (_req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .send(PAGE),
    );
  };
}
