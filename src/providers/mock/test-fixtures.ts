// Test-only: what the mock's endpoint tests share. A request is answered by handleMockRequest in-process;
// json() and sse() read its reply, checking its kind and, for a stream, its framing.
import { expect } from 'vitest';
import { SseParser, type SseEvent } from '../sse/index.js';
import { handleMockRequest, type MockJsonReply, type MockOptions, type MockReply, type MockSseReply } from './index.js';

/** Replies at once, with 12 output tokens unless a request asks for another count. */
export const opts: MockOptions = { latencyMs: 0, outputTokens: 12 };
/** A short chat, for requests whose prompt does not matter. */
export const messages = [{ role: 'user', content: 'Say hello to the gateway.' }];

/** A JSON reply's status, parsed body and the reply itself; fails the test for any other kind. */
export function json(reply: MockReply): { status: number; body: any; reply: MockJsonReply } {
  expect(reply.kind).toBe('json');
  const r = reply as MockJsonReply;
  return { status: r.status, body: JSON.parse(r.body), reply: r };
}

/** A stream's events, one per frame, each frame ending in a blank line; fails the test for any other kind. */
export function sse(reply: MockReply): { reply: MockSseReply; events: SseEvent[] } {
  expect(reply.kind).toBe('sse');
  const r = reply as MockSseReply;
  for (const f of r.frames) expect(f.endsWith('\n\n')).toBe(true);
  const p = new SseParser();
  const events = [...p.push(Buffer.from(r.frames.join(''))), ...p.end()];
  expect(events).toHaveLength(r.frames.length); // one event per frame
  return { reply: r, events };
}

/** POSTs `body` to `path` on the mock, with `o` as its options. */
export const post = (path: string, body: unknown, o: MockOptions = opts) => handleMockRequest('POST', path, body, o);
