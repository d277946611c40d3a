// A gateway loads the Redis and PostgreSQL drivers only when its config uses them: ioredis alone adds
// some 9 MB to the resident memory of a gateway that keeps counters in memory and its ledger in SQLite.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCli, writeConfig } from './helpers/processes.js';

// Preloaded into the gateway: a module resolve hook that writes every package it resolves to a file.
function recordingHook(logFile: string): string {
  const hook = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url);
  if (m) appendFileSync(${JSON.stringify(logFile)}, m[1] + '\\n');
  return result;
}`;
  const preload = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
  return `--import=data:text/javascript,${encodeURIComponent(preload)}`;
}

describe('driver loading', () => {
  it('a gateway with memory counters and a SQLite ledger never loads ioredis or postgres', async () => {
    const config = writeConfig(`
storage: {counters: memory, ledger: "sqlite:data/ledger.db"}
providers:
  up: {type: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-up}
projects:
  web: {daily_limit: 100000}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]
keys:
  - {id: web-app, key: tg-web-secret, project: web}
`);
    const logFile = path.join(path.dirname(config), 'resolved.txt');
    const gateway = await startCli(['serve', '--config', config, '--host', '127.0.0.1', '--port', '0'], { NODE_OPTIONS: recordingHook(logFile) });
    try {
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    } finally {
      await gateway.stop();
    }
    const packages = new Set(readFileSync(logFile, 'utf8').split('\n'));
    expect(packages.has('fastify'), 'the hook records the packages the gateway does load').toBe(true);
    expect(packages.has('better-sqlite3')).toBe(true);
    expect(packages.has('ioredis')).toBe(false);
    expect(packages.has('postgres')).toBe(false);
  });
});
