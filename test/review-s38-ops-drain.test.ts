// README "Rolling restarts" as an SRE would meet it: `server.drain_delay_ms` added by a reload (the docs
// say it is read at the signal), Redis counters (db 12), the standalone `tollgate mock-upstream` as the
// provider. A stream started before SIGTERM runs through the delay and the listener's close to its end,
// /healthz answers 503 draining meanwhile, the process exits 0 and the stream's tokens are in Redis.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const REDIS_URL = 'redis://127.0.0.1:6379/12';
const running: RunningProcess[] = [];
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) await p.stop('SIGKILL');
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('drain_delay_ms applied by a reload, with Redis counters and a mock-upstream process', () => {
  it('serves a stream begun before SIGTERM to its end through the delay, /healthz 503 meanwhile, then exits 0', { timeout: 20_000 }, async () => {
    const upstream = await startCli(['mock-upstream', '--port', '0', '--output-tokens', '8', '--chunk-delay-ms', '250']);
    running.push(upstream);
    const project = `s38ops-${process.pid}-${Date.now()}`;
    const file = writeConfig('{}');
    const text = (server: string): string => `
server: {${server}}
storage: {counters: "${REDIS_URL}", ledger: "sqlite:${path.join(path.dirname(file), 'drain.db')}"}
providers: {up: {type: openai, base_url: "${upstream.url}/v1", api_key: sk-x}}
projects: {${project}: {daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: m, model: up/gpt-4o}]}}
keys:
  - {id: a, key: tg-s38ops-a, project: ${project}}
`;
    writeFileSync(file, text('drain_timeout_ms: 10000'));
    const gateway = await startCli(['serve', '--config', file, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
    running.push(gateway);
    const exited = new Promise<number | null>((resolve) => gateway.child.once('exit', (code) => resolve(code)));

    // The delay arrives by a save, not at start.
    writeFileSync(file, text('drain_timeout_ms: 10000, drain_delay_ms: 1500'));
    for (let i = 0; i < 100 && !gateway.output().includes('configuration reloaded'); i++) await sleep(50);
    expect(gateway.output()).toContain('"msg":"configuration reloaded"');

    // 8 chunks 250 ms apart: ~2 s, past the 1.5 s delay.
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tg-s38ops-a' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, stream: true }),
    });
    expect(res.status).toBe(200);
    const body = res.text();
    await sleep(200);
    const sigterm = Date.now();
    gateway.child.kill('SIGTERM');
    await sleep(300);
    const health = await fetch(`${gateway.url}/healthz`);
    expect({ status: health.status, body: await health.json() }).toEqual({ status: 503, body: { status: 'draining' } });

    const streamed = await body;
    expect(streamed.trim().endsWith('data: [DONE]')).toBe(true);
    expect(streamed.match(/"content":"[^"]+"/g)?.length).toBe(8);
    expect(await exited).toBe(0);
    expect(Date.now() - sigterm).toBeGreaterThanOrEqual(1500);
    const log = gateway.output();
    expect(log).toContain('drain delay started');
    expect(log.indexOf('drain delay over')).toBeGreaterThan(log.indexOf('drain delay started'));

    // The gateway counted the stream in Redis (its project's counter key is there after the exit).
    const redis = new Redis(REDIS_URL);
    try {
      const keys = await redis.keys(`tg:{default}:project:${project}:*`);
      expect(keys.length).toBeGreaterThan(0);
      await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  });
});
