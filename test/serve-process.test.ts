// `tollgate serve` and `tollgate mock-upstream` as real processes, driven by the official openai client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

let upstream: RunningProcess;
let gateway: RunningProcess;

beforeAll(async () => {
  upstream = await startCli(['mock-upstream', '--port', '0', '--latency-ms', '300', '--output-tokens', '12', '--api-key', 'sk-up']);
  const config = writeConfig(`
server: {admin_key: \${TG_TEST_ADMIN_KEY:-}}
providers:
  up: {type: openai, base_url: "${upstream.url}/v1", api_key: \${TG_TEST_UPSTREAM_KEY}}
projects:
  web: {daily_limit: 100000, request_limit: 2000}
routes:
  main:
    chat_models: [{model_id: gpt-4o-mini, model: up/gpt-4o-mini}]
keys:
  - {id: web-app, key: \${TG_TEST_CLIENT_KEY}, project: web}
`);
  gateway = await startCli(['serve', '--config', config, '--host', '127.0.0.1', '--port', '0'], {
    TG_TEST_UPSTREAM_KEY: 'sk-up',
    TG_TEST_CLIENT_KEY: 'tg-web-secret',
  });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

describe('tollgate serve in front of tollgate mock-upstream', () => {
  it('answers /healthz, non-streaming and streaming calls', async () => {
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-web-secret', maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.usage?.completion_tokens).toBe(12);
    const stream = await client.chat.completions.create({ model: 'main', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let chunks = 0;
    for await (const c of stream) if (c.choices[0]?.delta?.content) chunks++;
    expect(chunks).toBe(12);
  });

  it('never logs the client key and never sends it upstream', async () => {
    const sent = (await (await fetch(`${upstream.url}/__mock/requests`)).json()) as Array<{ headers: Record<string, string> }>;
    expect(sent.length).toBeGreaterThan(0);
    for (const r of sent) {
      expect(r.headers.authorization).toBe('Bearer sk-up');
      expect(JSON.stringify(r)).not.toContain('tg-web-secret');
    }
    expect(gateway.output()).not.toContain('tg-web-secret');
  });

  it('drains in-flight requests on SIGTERM, then exits 0', async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-web-secret', maxRetries: 0 });
    const inFlight = client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'slow' }] });
    await new Promise((r) => setTimeout(r, 100)); // the upstream takes 300 ms
    const exited = gateway.stop('SIGTERM');
    const res = await inFlight;
    expect(res.choices[0].message.content?.length).toBeGreaterThan(0);
    expect(await exited).toBe(0);
  });
});
