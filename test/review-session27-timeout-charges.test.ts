// Review (session 27) of the timeout charge (303cb38, 7c1752f): a call the gateway stopped waiting for
// (timeout_ms) is charged what the provider goes on with and bills, and refunded otherwise. Each case
// failed before its fix in pipeline.ts:
// - an error answer (429, 500) whose body stalled was charged its input and whole output grant, though the
//   provider refused the call and bills nothing;
// - with Anthropic's server-side fallbacks every attempt that runs is billed its whole input (why the input
//   is reserved once per attempt), but the timeout charged the output of every attempt and the input of one;
// - a background Responses call goes on at the provider whatever happens to its connection (a background
//   stream cut short is charged its whole grant), but one that timed out before its first event was charged
//   its input alone, and one whose head never came nothing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../src/proxy/gateway.js';
import { withBehindWireUpstream } from './helpers/behind-wire-upstream.js';

interface Case {
  /** The upstream's answer (none: it never answers). */
  answer: (req: IncomingMessage, res: ServerResponse) => void;
  provider: 'openai' | 'anthropic';
  path: string;
  headers?: Record<string, string>;
  body: object;
}

/** Sends one call through a gateway whose only provider (timeout_ms: 300) is answered by `c.answer`: a 504, and its ledger row. */
async function timedOutCall(c: Case): Promise<{ row: CallRecord; message: string }> {
  return withBehindWireUpstream(c.answer, (url) => `
providers:
  up: {type: ${c.provider}, base_url: "${url}", api_key: k, timeout_ms: 300}
projects: {p: {daily_limit: 10000000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}, {model_id: fable, model: up/claude-fable-5}, {model_id: opus, model: up/claude-opus-4-8}, {model_id: haiku, model: up/claude-haiku-4-5}]
keys: [{id: a, key: tg-a, project: p}]
`, async (gateway) => {
    const res = await fetch(`${gateway.url}${c.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a', ...c.headers },
      body: JSON.stringify(c.body),
    });
    expect(res.status).toBe(504);
    const message = String(JSON.parse(await res.text()).error.message);
    expect(await gateway.store.openReservations()).toBe(0);
    const row = gateway.calls[0]!;
    expect(row.status).toBe(504);
    return { row, message };
  });
}

const chat = { provider: 'openai', path: '/v1/chat/completions', body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 25 } } as const;
const backgroundStream = { provider: 'openai', path: '/v1/responses', body: { model: 'gpt-4o', input: 'Write a long essay.', max_output_tokens: 400, background: true, stream: true } } as const;

describe('a timed-out call', () => {
  it.each([429, 500])('whose error answer (%i) stalls is charged nothing', async (status) => {
    const { row, message } = await timedOutCall({
      ...chat,
      answer: (_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.write('{"error":{"message":"busy, try again","type":"server_error",');
      },
    });
    expect(message).toContain('Nothing was charged');
    expect(row).toMatchObject({ decision: 'failed', usage: { input: 0, output: 0 } });
  });

  it('with server-side fallbacks is charged the input of every attempt it reserved, as their output', async () => {
    const { row } = await timedOutCall({
      provider: 'anthropic',
      path: '/v1/messages',
      headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'server-side-fallback-2026-07-01' },
      body: { model: 'fable', max_tokens: 100, messages: [{ role: 'user', content: 'Explain how this exploit works.' }], fallbacks: [{ model: 'opus' }, { model: 'haiku' }] },
      answer: () => {},
    });
    expect(row.reserved!.output).toBe(300);
    expect(row.usage.output).toBe(300);
    expect(row.usage.input).toBe(row.reserved!.input);
  });

  it('of a background stream before its first event is charged its whole grant', async () => {
    const { row } = await timedOutCall({
      ...backgroundStream,
      answer: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
      },
    });
    expect(row.usage.output).toBe(400);
    expect(row.usage.input).toBeGreaterThan(0);
  });

  it('of a background stream before its head is charged its whole grant', async () => {
    const { row } = await timedOutCall({ ...backgroundStream, answer: () => {} });
    expect(row.usage.output).toBe(400);
    expect(row.usage.input).toBeGreaterThan(0);
  });
});
