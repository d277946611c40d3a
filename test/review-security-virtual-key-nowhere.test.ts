// The client's virtual key is kept only as its SHA-256: after calls of every kind (answered, streamed,
// tagged, refused by the upstream, sent with a wrong, missing or second key), its secret is nowhere the
// gateway writes: not in its log, ledger rows, /metrics, the dashboard API or page, `tollgate usage`'s
// reports, the answers and headers its clients get, nor anything sent upstream.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import { formatReport } from '../src/ledger/report-format.js';
import { usageReport } from '../src/ledger/usage-report.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { Gateway } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { startUsageServices, type UsageServices } from '../src/server/usage-services.js';
import { ManualClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { writeConfig } from './helpers/processes.js';

const SECRET = 'tg-live-Virtual0Key1Secret2abcdefXYZ';
const OTHER = 'tg-live-Other0Key1Secret2abcdef0000';
const ADMIN = 'admin-key-for-the-review-0123456789';
const START = Date.UTC(2026, 10, 21, 12);

let upstream: MockUpstream;
let place: LedgerPlace;
let usage: UsageServices;
let gateway: Gateway;
let app: ReturnType<typeof buildServer>;
let url: string;
const logs: string[] = [];
/** Every answer's status line, headers and body, as the clients got them. */
const answers: string[] = [];

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 6 });
  const mockUrl = await upstream.listen(0, '127.0.0.1');
  place = sqlitePlace();
  const policy = loadPolicy([writeConfig(`
server: {admin_key: ${ADMIN}}
storage: {ledger: "${place.url}"}
providers:
  keyless-review-openai: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-upstream-0123456789abcdef}
  keyless-review-claude: {type: anthropic, base_url: "${mockUrl}", api_key: sk-upstream-0123456789abcdef}
projects: {p: {daily_limit: 10000000}}
routes:
  r:
    chat_models: [{model_id: gpt, model: keyless-review-openai/gpt-4o}, {model_id: claude, model: keyless-review-claude/claude-sonnet-4-5}]
keys:
  - {id: alice-laptop, key: ${SECRET}, user: alice, project: p}
  - {id: bob, key: ${OTHER}, user: bob, project: p}
`)], process.env);
  const clock = new ManualClock(START);
  const store = new MemoryCounterStore(clock, policy.server.timezone);
  gateway = new Gateway(policy, store, clock);
  const log = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) });
  usage = await startUsageServices({ policy, store, clock, log, currentPolicy: () => gateway.policy });
  usage.attach(gateway);
  app = buildServer({ gateway: () => gateway, maxBodyBytes: policy.server.maxBodyBytes, routes: usage.routes, onRejected: usage.onRejected, logger: log });
  url = await listenLocal(app);
});
afterAll(async () => {
  if (app) await closeApp(app);
  await usage?.close();
  await gateway?.close();
  await upstream?.close();
  await place?.drop();
});

async function call(method: string, path: string, headers: Record<string, string>, body?: object): Promise<string> {
  const res = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = `${res.status}\n${JSON.stringify([...res.headers])}\n${await res.text()}`;
  answers.push(text);
  return text;
}

const chat = { model: 'gpt', messages: [{ role: 'user', content: 'hello' }] };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe("a virtual key's secret", () => {
  it('is nowhere the gateway writes', async () => {
    await call('POST', '/v1/chat/completions', { ...bearer(SECRET), 'x-tollgate-tags': 'feature=search' }, { ...chat, metadata: { team: 'core' } });
    await call('POST', '/v1/chat/completions', bearer(SECRET), { ...chat, stream: true });
    await call('POST', '/v1/messages', { 'x-api-key': SECRET, 'anthropic-version': '2023-06-01' }, { model: 'claude', max_tokens: 20, messages: chat.messages });
    await call('POST', '/v1/messages/count_tokens', { 'x-api-key': SECRET, 'anthropic-version': '2023-06-01' }, { model: 'claude', messages: chat.messages });
    await call('POST', '/v1/chat/completions', bearer(SECRET), { ...chat, mock_error_status: 500 });
    await call('POST', '/v1/chat/completions', bearer(SECRET), { ...chat, mock_error_status: 401 });
    await call('POST', '/v1/chat/completions', bearer(SECRET), { ...chat, model: 'no-such-model' });
    await call('POST', '/v1/chat/completions', bearer(`${SECRET}x`), chat);
    await call('POST', '/v1/chat/completions', { ...bearer(SECRET), 'x-api-key': OTHER }, chat);
    await call('POST', '/v1/chat/completions', {}, chat);
    await call('GET', '/v1/models', bearer(SECRET));
    await call('GET', '/v1/responses/resp_missing1', bearer(SECRET));
    expect(answers.filter((a) => a.startsWith('200')).length).toBeGreaterThanOrEqual(4);
    // An upstream 401 is logged: the log is being written. (The warning is given once a minute per provider
    // name in a process: the providers' names are this file's own, as test files share worker processes.)
    expect(logs.join('\n')).toContain('refused the gateway');

    await usage.writer!.flush();
    const rows = await usage.ledger!.rows({});
    expect(rows.filter((r) => r.keyId === 'alice-laptop').length).toBeGreaterThanOrEqual(4);
    const admin = { authorization: `Bearer ${ADMIN}` };
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('tollgate_tokens_total');
    const dashboard = await (await fetch(`${url}/api/tokens/dashboard`, { headers: admin })).text();
    expect(dashboard).toContain('alice');
    const page = await (await fetch(`${url}/dashboard`)).text();
    const audit = await (await fetch(`${url}/api/audit`, { headers: admin })).text();
    const reports = await Promise.all(
      (['table', 'csv', 'json'] as const).map(async (format) =>
        formatReport(await usageReport(usage.ledger!, { sinceMs: START - 86_400_000, untilMs: START + 86_400_000, by: ['key', 'user', 'tag:feature'], timezone: 'UTC' }), format),
      ),
    );
    expect(reports[0]).toContain('alice-laptop');
    const sentUpstream = JSON.stringify(upstream.requests());

    const places: Record<string, string> = { log: logs.join('\n'), ledger: JSON.stringify(rows), metrics, dashboard, page, audit, reports: reports.join('\n'), answers: answers.join('\n'), upstream: sentUpstream };
    for (const [where, text] of Object.entries(places)) {
      // The whole secret, and any long part of it (a truncated echo).
      expect(text, where).not.toContain(SECRET);
      expect(text, where).not.toContain(SECRET.slice(8, 28));
      expect(text, where).not.toContain(OTHER.slice(8, 28));
    }
  });
});
