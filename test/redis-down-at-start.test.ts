// A gateway that starts while its Redis is down, over a ledger that already holds the day's spend: it
// cannot rebuild the counters then, says so (not "could not rebuild counters from the ledger" with
// ioredis's "Stream isn't writeable"), refuses calls while Redis is away (fail_closed), and once an empty
// Redis answers rebuilds the counters from the ledger before admitting anything: no fresh budget.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedAtMidday } from './helpers/midday-zone.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { freeRedisPort, startRedisServer, type RedisServer } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const BUDGET = 1000;
let redis: RedisServer | undefined;
let port: number;
let config: string;
const running: RunningProcess[] = [];

beforeAll(async () => {
  port = await freeRedisPort();
  const ledger = path.join(mkdtempSync(path.join(tmpdir(), 'tollgate-down-at-start-')), 'ledger.db');
  config = writeConfig(servedAtMidday(`
storage: {counters: "redis://127.0.0.1:${port}", ledger: "sqlite:${ledger}", on_store_error: fail_closed, timeout_ms: 250}
providers:
  mock: {type: mock}
projects: {p: {daily_limit: ${BUDGET}}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: mock/gpt-4o}]
keys: [{id: a, key: tg-down, project: p}]
`));
});

afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL');
  await redis?.stop();
});

async function gateway(): Promise<RunningProcess> {
  const p = await startCli(['serve', '--config', config, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
  running.push(p);
  return p;
}

/** A call using 100 tokens of output; resolves to its status and the tokens it used. */
async function call(g: RunningProcess): Promise<{ status: number; used: number }> {
  const res = await fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-down' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 100, mock_output_tokens: 100 }),
  });
  const body = await res.json();
  return { status: res.status, used: res.status === 200 ? body.usage.total_tokens : 0 };
}

describe('a gateway that starts while Redis is down', () => {
  it('keeps the spend its ledger holds once an empty Redis answers', async () => {
    // Spend ~60% of the budget with Redis up, then stop both (the ledger keeps the rows).
    redis = await startRedisServer({ port });
    const first = await gateway();
    let spent = 0;
    for (let i = 0; i < 6; i++) spent += (await call(first)).used;
    expect(spent).toBeGreaterThan(600);
    await first.stop();
    await redis.kill();

    const second = await gateway();
    await until(() => /counters (not )?rebuilt|could not rebuild/.test(second.output()));
    expect(second.output()).toContain('counters not rebuilt from the ledger at start-up: the counter store does not answer');
    expect(second.output()).not.toContain('could not rebuild counters from the ledger');
    expect((await call(second)).status).toBe(503);

    // Redis comes back empty (no persistence): the counters are rebuilt from the ledger, not started afresh.
    await redis.restart();
    let more = 0;
    await until(async () => {
      const { status, used } = await call(second);
      more += used;
      return status !== 503;
    }, 15_000);
    for (let i = 0; i < 10; i++) more += (await call(second)).used;
    expect(spent + more).toBeLessThanOrEqual(BUDGET);
    expect(more).toBeLessThan(BUDGET - 600 + 1);
  }, 60_000);
});
