// Review (placement of fail-open local calls, LocalCallsMoved), with a gateway process: the call moved into
// Redis after the first outage was left out of the second outage's local counters (the store-level test:
// test/review-placement-second-outage.test.ts). Redis is a private redis-server behind a delay proxy (an
// outage: every command slower than timeout_ms, PINGs too).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { servedAtMidday } from './helpers/midday-zone.js';
import { CLI } from './helpers/processes.js';
import { startDelayProxy, type DelayProxy } from './helpers/redis-delay-proxy.js';
import { startRedisServer, type RedisServer } from './helpers/redis-servers.js';

const LIMIT = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const children: ChildProcess[] = [];
const servers: RedisServer[] = [];
const proxies: DelayProxy[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const p of proxies) await p.close();
  for (const r of servers) await r.stop();
});

function start(args: string[]): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, TOLLGATE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening: ${out}`)), 15_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        const stop = (): Promise<void> =>
          new Promise((res) => {
            if (child.exitCode !== null || child.signalCode !== null) return res();
            child.once('exit', () => res());
            child.kill('SIGTERM');
          });
        resolve({ url: m[1], child, stop });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
  });
}

async function call(url: string, latencyMs: number, output: number): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-pl-k1' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'count to three' }], max_tokens: output, mock_output_tokens: output, mock_latency_ms: latencyMs }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('fail_open gateway: a call moved into Redis, then a second outage', () => {
  // Fixed (the same as test/review-placement-second-outage.test.ts: 1,410 admitted before). Expected: one gateway (`instances: 1`)
  // admits no more than its daily limit: the README's fail-open bound is the limit itself plus what other
  // instances admitted after this one's last look (there are none). The running call (410 tokens) is moved
  // into Redis when the first outage's hold ends; Redis stops answering again before any other call; the
  // second outage's local counters start from the reading taken before the first outage and a usage log
  // that no longer has the running call, and hand its room out again.
  // (A control, one long outage with the call staying local, held before the fix too: left out for CI time.)
  it('one gateway admits no more than its daily limit', () => scenario(), 40_000);
});

async function scenario(): Promise<void> {
  const redis = await startRedisServer();
  servers.push(redis);
  const proxy = await startDelayProxy(redis.port);
  proxies.push(proxy);
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-review-placement-'));
  const ledgerFile = path.join(dir, 'ledger.db');
  const mock = await start(['mock-upstream', '--host', '127.0.0.1', '--port', '0']);
  const config = path.join(dir, 'tollgate.yaml');
  writeFileSync(
    config,
    servedAtMidday(`
storage: {counters: "${proxy.url}", ledger: "sqlite:${ledgerFile}", timeout_ms: 300, on_store_error: fail_open}
providers: {up: {type: openai, base_url: "${mock.url}/v1", api_key: sk-test}}
organizations: {o1: {daily_cap: ${LIMIT}}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}}
keys: [{id: k1, key: tg-pl-k1, organization: o1, user: u1}]
`),
  );
  const gw = await start(['serve', '--config', config, '--port', '0']);
  try {
    let admitted = 0;
    expect(await call(gw.url, 0, 10)).toBe(200); // a reading of the counter: ~20 used
    proxy.setDelay(1000); // the first outage
    expect(await call(gw.url, 0, 10)).toBe(200); // noticed: local counters from here
    const running = call(gw.url, 9000, 400); // ~410 tokens, admitted locally, running through both outages
    await sleep(300);
    proxy.setDelay(0);
    await sleep(5000); // the delayed commands drain, the probe finds it, the 2-second hold ends: the running call is placed in Redis
    proxy.setDelay(1000); // the second outage, before any other call read the counter
    // Spend what the local counters allow: each call ~410 tokens, until one is refused.
    while (admitted < 5 && (await call(gw.url, 0, 400)) === 200) admitted++;
    expect(await running).toBe(200);
    proxy.setDelay(0);
    await sleep(4000); // back, replayed, rows written
  } finally {
    await gw.stop();
    await mock.stop();
  }
  const db = new Database(ledgerFile, { readonly: true });
  const { tokens } = db.prepare('select sum(input_tokens + output_tokens) as tokens from tollgate_ledger where status = 200').get() as { tokens: number };
  db.close();
  rmSync(dir, { recursive: true, force: true });
  // Before the fix: 1,410.
  expect(tokens).toBeLessThanOrEqual(LIMIT);
}
