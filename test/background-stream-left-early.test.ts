// A background Responses call goes on at the provider whatever its connection does, so a client that
// leaves its stream early is charged its whole grant (as one that leaves mid-stream is). It was charged
// its input alone when it left before the first event, and nothing before the head (the review's
// pre-existing finding). A plain stream left before its head is still charged nothing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { until } from './helpers/until.js';
import { withBehindWireUpstream } from './helpers/behind-wire-upstream.js';

/** A stream the client leaves after 150 ms, the upstream answering with `answer`; the call's ledger row. */
async function leftEarly(background: boolean, answer: (req: IncomingMessage, res: ServerResponse) => void) {
  return withBehindWireUpstream(answer, (url) => `
providers:
  up: {type: openai, base_url: "${url}", api_key: k}
projects: {p: {daily_limit: 10000000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]
keys: [{id: a, key: tg-a, project: p}]
`, async (gateway) => {
    const leave = new AbortController();
    setTimeout(() => leave.abort(), 150);
    await fetch(`${gateway.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a' },
      body: JSON.stringify({ model: 'gpt-4o', input: 'Write a long essay.', max_output_tokens: 400, background, stream: true }),
      signal: leave.signal,
    }).catch(() => undefined);
    await until(() => gateway.calls.length > 0);
    expect(await gateway.store.openReservations()).toBe(0);
    return gateway.calls[0]!;
  });
}

const headOnly = (_req: IncomingMessage, res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.flushHeaders();
};

describe('a client that leaves a background stream early', () => {
  it('before its first event is charged its whole grant', async () => {
    const row = await leftEarly(true, headOnly);
    expect(row).toMatchObject({ status: 499, streamEnd: 'client_gone', usage: { output: 400 } });
    expect(row.usage.input).toBe(row.reserved!.input);
  });

  it('before its head is charged its whole grant too', async () => {
    const row = await leftEarly(true, () => {});
    expect(row).toMatchObject({ status: 499, usage: { output: 400 } });
    expect(row.usage.input).toBe(row.reserved!.input);
  });

  it('a plain stream left before its head is charged nothing, and before its first event its input', async () => {
    expect((await leftEarly(false, () => {})).usage).toMatchObject({ input: 0, output: 0 });
    const row = await leftEarly(false, headOnly);
    expect(row.usage.output).toBe(0);
    expect(row.usage.input).toBeGreaterThan(0);
  });
});
