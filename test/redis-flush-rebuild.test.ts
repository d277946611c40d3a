// A Redis that loses the counters while gateways run (FLUSHALL, a restart without persistence) must not
// hand out a fresh budget: the gateway rebuilds them from the ledger before admitting anything more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Redis } from 'ioredis';
import { createMockUpstream } from '../src/mock-upstream/index.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { usePrivateRedis } from './helpers/redis-servers.js';

const redis = usePrivateRedis();
let upstream: ReturnType<typeof createMockUpstream>;
let gateway: RunningProcess;

beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 100 });
  const url = await upstream.listen(0, '127.0.0.1');
  // The ledger flushes rarely, so the rebuild must first write the calls still buffered.
  const config = writeConfig(`
storage: {counters: "${redis.url}", ledger: "sqlite:ledger.db"}
ledger: {flush_interval_ms: 60000}
providers: {up: {type: openai, base_url: "${url}/v1"}}
projects:
  p: {daily_limit: 1000}
routes:
  r:
    chat_models: [{model_id: m, model: up/gpt-4o}]
keys:
  - {id: fay, key: tg-fay, user: fay, project: p}
`);
  gateway = await startCli(['serve', '--config', config, '--port', '0']);
}, 30_000);
afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
});

describe('counters lost by Redis while the gateway runs', () => {
  it('are rebuilt from the ledger: the budget left after a FLUSHALL is what it was before', async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-fay', maxRetries: 0 });
    const ask = () => client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 100 }).withResponse();
    let remaining = 1000;
    for (let i = 0; i < 4; i++) remaining = Number((await ask()).response.headers.get('x-ratelimit-remaining-tokens'));
    expect(remaining).toBeLessThan(600);

    const raw = new Redis(redis.url);
    await raw.flushall();
    await raw.quit();

    const after = await ask();
    const spentByThisCall = 100 + after.data.usage!.prompt_tokens;
    // Rebuilt: what was left, less this call (without the rebuild it would be 1000 less this call).
    expect(Number(after.response.headers.get('x-ratelimit-remaining-tokens'))).toBe(remaining - spentByThisCall);
    expect(gateway.output()).toContain('rebuilding them from the ledger');
  });
});
