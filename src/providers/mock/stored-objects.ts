// What the mock keeps between requests, as OpenAI does: the responses it stored and the conversations it
// made. Only their paths reach it; the other endpoints stay the stateless, lean benchmark baseline.
import { MockConversationStore } from './stored-conversations.js';
import { MockResponseStore } from './stored-responses.js';
import type { MockOptions, MockReply } from './types.js';

const RESPONSES = '/v1/responses';
const CONVERSATIONS = '/v1/conversations';

/** Whether a request to `path` may touch stored objects (ask `answer` first, `remember` after generating). */
export function touchesStoredObjects(path: string): boolean {
  return path.startsWith(RESPONSES) || path.startsWith(CONVERSATIONS);
}

export class MockStoredObjects {
  private readonly responses = new MockResponseStore();
  private readonly conversations = new MockConversationStore();

  /**
   * The answer to a stored response's retrieval or a Conversations API request, or OpenAI's 404 for a new
   * response naming a conversation the mock does not have; undefined when the generators answer.
   */
  answer(method: string, url: string, body: unknown, opts: MockOptions): MockReply | undefined {
    if (url.startsWith(CONVERSATIONS)) return this.conversations.answer(method, url, body, opts);
    const q = url.indexOf('?');
    if (method.toUpperCase() === 'POST' && (q === -1 ? url : url.slice(0, q)) === RESPONSES) return this.conversations.refuseUnknown(body, opts);
    return this.responses.answer(method, url, opts);
  }

  /**
   * Keeps what a generated answer to POST /v1/responses made: the response, and its turn in its
   * conversation. Returns what to answer (a background call is answered `queued`: MockResponseStore).
   */
  remember(body: unknown, reply: MockReply): MockReply {
    this.conversations.remember(body, reply);
    return this.responses.remember(body, reply);
  }
}
