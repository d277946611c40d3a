// Streams that end badly: the upstream dies mid-stream, or the client leaves. Nothing leaks either way.
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw } = useBehindMock({ latencyMs: 0, outputTokens: 50 }, (url) => `
providers: {up: {type: openai, base_url: "${url}/v1"}}
projects: {p: {daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: m, model: up/gpt-4o}]}}
keys: [{id: a, key: tg-a, project: p}]
`);

function streamRequest(extra: object, signal?: AbortSignal) {
  return request(`${gw().url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'go' }], stream: true, max_tokens: 100, ...extra }),
    signal,
  });
}

async function waitFor(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !predicate(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('stream failures', () => {
  it('upstream dies mid-stream: the client gets an error event, the call is settled for what was produced', async () => {
    const before = gw().calls.length;
    const res = await streamRequest({ mock_abort_after_chunks: 6 });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(text).toContain('"code":"upstream_error"');
    await waitFor(() => gw().calls.length > before);
    const call = gw().calls[before];
    expect(call.status).toBe(502);
    // 6 frames = the role chunk + 5 tokens; counted by the tokenizer since no usage arrived.
    expect(call.usage).toMatchObject({ output: 5, source: 'estimated' });
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('upstream reports an error before producing anything: the client sees it and nothing is charged', async () => {
    const before = gw().calls.length;
    const res = await streamRequest({ mock_error_event_after_chunks: 0 });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(text.trim().slice('data: '.length))).toMatchObject({ error: { type: 'server_error' } });
    await waitFor(() => gw().calls.length > before);
    expect(gw().calls[before]).toMatchObject({ status: 502, decision: 'failed', streamEnd: 'upstream_failed', usage: { input: 0, output: 0 } });
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('client leaves mid-stream: the upstream call is aborted and charged for what was delivered', async () => {
    const before = gw().calls.length;
    const controller = new AbortController();
    const res = await streamRequest({ mock_chunk_delay_ms: 20 }, controller.signal);
    let received = '';
    for await (const chunk of res.body) {
      received += chunk.toString();
      if ((received.match(/"content"/g) ?? []).length >= 4) {
        controller.abort();
        break;
      }
    }
    await waitFor(() => gw().calls.length > before);
    const call = gw().calls[before];
    expect(call.status).toBe(499);
    expect(call.usage.source).toBe('estimated');
    expect(call.usage.output).toBeGreaterThanOrEqual(3);
    expect(call.usage.output).toBeLessThan(50);
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('client leaves before the first byte: the upstream call is aborted at once and refunded', async () => {
    const before = gw().calls.length;
    const controller = new AbortController();
    const started = Date.now();
    const pending = streamRequest({ mock_latency_ms: 3000 }, controller.signal).catch((e) => e);
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    await pending;
    await waitFor(() => gw().calls.length > before);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(gw().calls[before]).toMatchObject({ status: 499, decision: 'failed', usage: { input: 0, output: 0 } });
    expect(await gw().store.openReservations()).toBe(0);
  });
});
