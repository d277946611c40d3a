// A token bucket through HTTP: a call that fails (or uses less than it reserved) after the bucket has drained
// part of its reservation gives back only the part still in the bucket, so a refund can never erase other
// callers' usage and let a burst past the bucket's capacity.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

function call(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${gw!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500 && !(await check()); i++) await new Promise((r) => setTimeout(r, 5));
}

describe('token bucket refunds', () => {
  it('a call failing after half the bucket drained does not give back what another caller used since', async () => {
    gw = await startTestGateway(`
providers: {demo: {type: mock}}
routes:
  r:
    chat_models: [{model_id: m, model: demo/gpt-4o}]
    token_limiting:
      output: {algorithm: token_bucket, window_size: 1 minute, max_token: 1000}
keys: [{id: a, key: tg-a}]
enforcement: {clamp_max_tokens: false}
`);
    // A takes the whole bucket; its provider answers 502 only later (real time; the gateway's clock is frozen).
    const slow = call({ max_tokens: 1000, mock_latency_ms: 1000, mock_error_status: 502 });
    await until(async () => (await gw!.store.openReservations()) === 1);
    gw.clock.advance(30_000); // 500 of A's 1000 have drained
    const b = await call({ max_tokens: 500, mock_output_tokens: 500 });
    expect(b.status).toBe(200);
    expect(await gw.store.openReservations()).toBe(1); // A is still waiting for its provider
    expect((await slow).status).toBe(502);
    // In the bucket now: B's 500 (A's undrained 500 went back). Another 600 do not fit; 500 do.
    const c = await call({ max_tokens: 600, mock_output_tokens: 600 });
    expect(c.status).toBe(429);
    expect(c.headers.get('x-ratelimit-remaining-tokens')).toBe('500');
    expect(c.headers.get('retry-after')).toBe('6'); // 100 more must drain, at 1000 a minute
    expect((await call({ max_tokens: 500, mock_output_tokens: 500 })).status).toBe(200);
  });
});
