// Regression (QA): after an early 413 or 401 the gateway read and dropped at most 64 MiB of the rest of
// the upload, then closed; with OpenAI's endpoints taking 80 MiB by default, a client sending 80-144 MiB
// met EPIPE/ECONNRESET on its writes instead of getting to its answer. Now, as nginx's lingering close,
// only time bounds the drain. A real gateway process (a race hides in one event loop: early-answers.test.ts)
// and a raw socket client that uploads the whole body, then reads.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const MiB = 1024 * 1024;
let gateway: RunningProcess;

beforeAll(async () => {
  // No server.max_body_bytes: the default limits hold (80 MiB on /v1/chat/completions).
  const config = writeConfig(`
ledger: {enabled: false}
providers:
  demo: {type: mock, latency_ms: 0, output_tokens: 5}
users:
  t: {daily_limit: 1000000}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys: [{id: alice, key: tg-alice, user: alice, tier: t}]
`);
  gateway = await startCli(['serve', '--config', config, '--host', '127.0.0.1', '--port', '0']);
});
afterAll(async () => {
  await gateway?.stop();
});

/** Sends a request with a `bodyBytes` body in full, then reads the answer; any socket error is returned. */
function upload(key: string, bodyBytes: number): Promise<{ written: number; answer: string; error?: string }> {
  const { port } = new URL(gateway.url);
  return new Promise((resolve) => {
    const socket = net.connect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true });
    const chunk = Buffer.alloc(MiB, 'x');
    let queued = 0;
    let written = 0;
    let answer = '';
    let error: string | undefined;
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => resolve({ written, answer, ...(error ? { error } : {}) }));
    const pump = (): void => {
      while (!socket.destroyed && queued < bodyBytes) {
        queued += chunk.length;
        const ok = socket.write(chunk, (err) => {
          if (!err) written += chunk.length; // counted once the kernel took it
        });
        if (!ok) return void socket.once('drain', pump);
      }
      if (!socket.destroyed) socket.end();
    };
    socket.on('connect', () => {
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${bodyBytes}\r\n\r\n`);
      pump();
    });
  });
}

describe('an early answer to a large upload', () => {
  it('lets a client send 100 MiB to an 80 MiB limit and then read its 413', async () => {
    const r = await upload('tg-alice', 100 * MiB);
    expect(r.error).toBeUndefined();
    expect(r.written).toBe(100 * MiB);
    expect(r.answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.answer).toContain('body_too_large');
  }, 60_000);

  it('lets a client send 72 MiB (under the limit) with a wrong key and then read its 401', async () => {
    const r = await upload('tg-nobody', 72 * MiB);
    expect(r.error).toBeUndefined();
    expect(r.written).toBe(72 * MiB);
    expect(r.answer).toMatch(/^HTTP\/1\.1 401 /);
  }, 60_000);
});
