// A body sent to a path the gateway does not serve (a typo such as `/v1/chat/completion`) or with a method
// the path does not take (`PUT /v1/chat/completions`) is wanted by nothing, yet the gateway waited for it
// and read it in full before answering: README "Endpoints" says "`Expect: 100-continue` gets its 100 only
// once the key is good and the announced body fits; otherwise the final answer comes at once, and the body
// is never sent", and the Errors table answers such calls 404 `not_found` / 405 `method_not_allowed`.
// Seen against `tollgate serve` (QA pass, session 38, curl and raw sockets): with `Expect: 100-continue` neither a 100
// nor the 404/405 came within 3 s (curl then uploads after its own 1 s wait); without it, a 50 MiB body
// with no key at all was uploaded in full (52428808 bytes, 1-3.5 s) before the 404 (a bad key on
// /v1/chat/completions is answered after 655360 bytes); and a body over the limit turned the 404/405 into
// a 413 `body_too_large` (with `server.max_body_bytes: 2000`, a 3 KB body to `/v1/chat/completion`: "The
// request body is larger than this gateway accepts (2000 bytes)", sending the client to shrink a body that
// was never the problem). Cause: fastify's content-type parsing (parseAs 'buffer', bodyLimit) ran for the
// not-found and method-not-allowed routes too; such requests are now answered by an onRequest hook, before
// any body is read (src/proxy/server.ts).
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { Gateway } from '../src/proxy/gateway.js';
import { buildServer } from '../src/proxy/server.js';
import { ManualClock } from '../src/util/clock.js';
import { closeApp, listenLocal } from './helpers/in-process.js';
import { writeConfig } from './helpers/processes.js';

const MAX_BODY = 2000;
let app: FastifyInstance;
let gateway: Gateway;
let url: string;

beforeAll(async () => {
  const policy = loadPolicy([writeConfig(`
server: {max_body_bytes: ${MAX_BODY}}
providers: {m: {type: mock}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: m/gpt-4o}]}}
keys: [{id: k, key: tg-k, project: p}]
`)], process.env);
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 12));
  gateway = new Gateway(policy, new MemoryCounterStore(clock, 'UTC'), clock);
  app = buildServer({ gateway: () => gateway, maxBodyBytes: MAX_BODY });
  url = await listenLocal(app);
});
afterAll(async () => {
  await closeApp(app);
  await gateway.close();
});

/** Sends a request head announcing a body it does not send; resolves with the first bytes answered, or '' after `waitMs`. */
function firstAnswer(head: string, waitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(url).port), '127.0.0.1', () => socket.write(head));
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(text);
    }, waitMs);
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\r\n\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
  });
}

const bigBody = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(3000) }] });

describe('a body sent where no endpoint takes one', () => {
  // `HTTP/1.1 404` (unknown path) and `HTTP/1.1 405` (wrong method) at once, without a 100 and without the
  // body, as a bad key on a served path gets its 401 (test/bad-input.test.ts). Was: nothing within 3 s.
  it("'Expect: 100-continue' to an unknown path or with a wrong method: the 404 or 405 at once, no 100", async () => {
    const answers = await Promise.all(['POST /v1/chat/completion', 'PUT /v1/chat/completions'].map((line) =>
      firstAnswer(`${line} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tg-k\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n`, 3000),
    ));
    expect(answers.map((a) => a.slice(0, 12))).toEqual(['HTTP/1.1 404', 'HTTP/1.1 405']);
  });

  // As for a small body; was a 413 body_too_large, "larger than this gateway accepts (2000 bytes)", for both.
  it('a body over the limit still gets the 404 and the 405, not a 413', async () => {
    const headers = { authorization: 'Bearer tg-k', 'content-type': 'application/json' };
    const small = await fetch(`${url}/v1/chat/completion`, { method: 'POST', headers, body: '{}' });
    expect(small.status).toBe(404);
    const typo = await fetch(`${url}/v1/chat/completion`, { method: 'POST', headers, body: bigBody });
    const wrongMethod = await fetch(`${url}/v1/chat/completions`, { method: 'PUT', headers, body: bigBody });
    const codes = [(await typo.json()).error.code, (await wrongMethod.json()).error.code];
    expect([typo.status, wrongMethod.status, ...codes]).toEqual([404, 405, 'not_found', 'method_not_allowed']);
  });
});
