// providers.<name>.timeout_ms is honoured to the millisecond, short ones included: undici checks its own
// timeouts on a ~1 s tick, so a 300 ms timeout let a 600 ms answer through. A timed-out call is a 504 in
// the client's format, charged nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockUpstream } from '../src/mock-upstream/index.js';
import { startBehindMock, stopBehindMock, type TestGateway } from './helpers/in-process.js';

let upstream: MockUpstream;
let gw: TestGateway;

beforeAll(async () => {
  ({ upstream, gw } = await startBehindMock({ latencyMs: 0, outputTokens: 5 }, (url) => `
providers:
  up: {type: openai, base_url: "${url}/v1", timeout_ms: 300}
projects: {p: {daily_limit: 100000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]
keys: [{id: a, key: tg-a, project: p}]
`));
});
afterAll(() => stopBehindMock(gw, upstream));

const call = (latencyMs: number, stream = false): Promise<Response> =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, stream, mock_latency_ms: latencyMs }),
  });

describe('an upstream slower than timeout_ms', () => {
  it('is a 504 upstream_timeout, not an answer, and nothing is charged', async () => {
    for (const stream of [false, true]) {
      const res = await call(600, stream);
      expect(res.status).toBe(504);
      const body = await res.json();
      expect(body.error.code).toBe('upstream_timeout');
      expect(body.error.message).toContain('300 ms');
      const last = gw.calls[gw.calls.length - 1];
      expect(last).toMatchObject({ status: 504, decision: 'failed', usage: { input: 0, output: 0 } });
    }
    expect(await gw.store.openReservations()).toBe(0);
  });

  it('one within it answers as usual', async () => {
    const res = await call(50);
    expect(res.status).toBe(200);
    expect((await res.json()).usage.completion_tokens).toBe(5);
  });
});
