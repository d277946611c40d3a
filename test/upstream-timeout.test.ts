// providers.<name>.timeout_ms is honoured to the millisecond, short ones included: undici checks its own
// timeouts on a ~1 s tick, so a 300 ms timeout let a 600 ms answer through. A timed-out call is a 504 in
// the client's format. A non-streamed one is charged its input and whole output grant: the provider goes
// on with it after the gateway stops waiting and bills it (a QA pass measured 5 client calls become 15
// provider calls of 1,010 tokens each, the SDK retrying every 504, with 0 charged on a limit of 3,000). A
// stream stops when its connection closes: nothing is charged.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';
import { startWireUpstream } from './helpers/wire-upstream.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 5 }, (url) => `
providers:
  up: {type: openai, base_url: "${url}/v1", timeout_ms: 300}
projects:
  p: {daily_limit: 100000}
  small: {daily_limit: 3000}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]
keys:
  - {id: a, key: tg-a, project: p}
  - {id: s, key: tg-s, project: small}
`);

const call = (latencyMs: number, stream = false, maxTokens = 5, key = 'tg-a'): Promise<Response> =>
  fetch(`${gw().url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: maxTokens, stream, mock_latency_ms: latencyMs }),
  });

const lastCall = () => gw().calls[gw().calls.length - 1];

describe('an upstream slower than timeout_ms', () => {
  it('is a 504 upstream_timeout; a stream is charged nothing', async () => {
    const res = await call(600, true);
    expect(res.status).toBe(504);
    const body = await res.json();
    expect(body.error.code).toBe('upstream_timeout');
    expect(body.error.message).toContain('300 ms');
    expect(body.error.message).toContain('Nothing was charged');
    expect(lastCall()).toMatchObject({ status: 504, decision: 'failed', usage: { input: 0, output: 0 } });
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('a non-streamed call is charged its input and its whole output grant, and the answer says so', async () => {
    const res = await call(600, false, 40);
    expect(res.status).toBe(504);
    const body = await res.json();
    expect(body.error.code).toBe('upstream_timeout');
    const row = lastCall();
    expect(row).toMatchObject({ status: 504, decision: 'failed', usage: { output: 40, source: 'estimated' } });
    expect(row.usage.input).toBeGreaterThan(0);
    expect(body.error.message).toContain(`charged ${row.usage.input + row.usage.output} tokens (40 of them output)`);
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('so retried timeouts cannot run past a limit the provider bills them against', async () => {
    // The official client retries each 504 twice: every attempt reaches the provider and is billed.
    const client = new OpenAI({ apiKey: 'tg-s', baseURL: `${gw().url}/v1`, maxRetries: 2 });
    const before = upstream().requests().length;
    const firstRow = gw().calls.length;
    let refused = 0;
    for (let i = 0; i < 5; i++) {
      try {
        await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1000, mock_latency_ms: 600 } as never);
      } catch (err) {
        if (err instanceof OpenAI.RateLimitError) refused++;
        else expect(err).toBeInstanceOf(OpenAI.InternalServerError);
      }
    }
    const billed = gw().calls.slice(firstRow).filter((c) => c.status === 504);
    const sentUpstream = upstream().requests().length - before;
    expect(sentUpstream).toBe(billed.length);
    expect(refused).toBeGreaterThan(0);
    // What the provider bills (each call runs to its grant) is what the gateway charged, within the limit.
    const charged = billed.reduce((sum, c) => sum + c.usage.input + c.usage.output, 0);
    expect(charged).toBeLessThanOrEqual(3000);
    expect(billed.every((c) => c.usage.output === c.reserved?.output)).toBe(true);
  });

  it('one within it answers as usual', async () => {
    const res = await call(50);
    expect(res.status).toBe(200);
    expect((await res.json()).usage.completion_tokens).toBe(5);
  });
});

/** A gateway whose only provider is `upstreamUrl` with a 300 ms timeout; `run` gets its URL. */
async function withGatewayTo(upstreamUrl: string, run: (gateway: TestGateway) => Promise<void>): Promise<void> {
  const gateway = await startTestGateway(`
providers:
  up: {type: openai, base_url: "${upstreamUrl}", timeout_ms: 300}
projects: {p: {daily_limit: 100000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]
keys: [{id: a, key: tg-a, project: p}]
`);
  try {
    await run(gateway);
  } finally {
    await gateway.close();
  }
}

const postTo = (gateway: TestGateway, stream: boolean): Promise<Response> =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 25, stream }),
  });

describe('an answer whose head came and whose body stalls past timeout_ms', () => {
  it('non-streamed: a 504 charged as one whose head never came (the provider produced the answer and bills it)', async () => {
    // The head and half the JSON body, then nothing (undici checks a body's gaps on its ~1 s tick).
    const stalling = await startWireUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":"chatcmpl-1","object":"chat.completion","created":1760000000,"model":"gpt-4o","choices":[');
    });
    try {
      await withGatewayTo(stalling.url, async (gateway) => {
        const res = await postTo(gateway, false);
        expect(res.status).toBe(504);
        expect((await res.json()).error.message).toContain('(25 of them output)');
        expect(gateway.calls[0]).toMatchObject({ status: 504, usage: { output: 25, source: 'estimated' } });
        expect(await gateway.store.openReservations()).toBe(0);
      });
    } finally {
      await stalling.close();
    }
  });

  it('streamed, before its first event: a 504 charged the input, as a client that leaves then is', async () => {
    const silent = await startWireUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
    });
    try {
      await withGatewayTo(silent.url, async (gateway) => {
        const res = await postTo(gateway, true);
        expect(res.status).toBe(504);
        expect((await res.json()).error.message).toContain('(0 of them output)');
        const row = gateway.calls[0];
        expect(row).toMatchObject({ status: 504, usage: { output: 0, source: 'estimated' } });
        expect(row.usage.input).toBeGreaterThan(0);
        expect(await gateway.store.openReservations()).toBe(0);
      });
    } finally {
      await silent.close();
    }
  });
});
