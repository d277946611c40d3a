// GET /__mock/requests after a request body nested thousands of levels deep: JSON.parse took the body,
// JSON.stringify (which recurses) ran out of stack writing the log back, inside the request handler, and
// the process died with a RangeError. The log now answers, with such a body as its raw text.
import { afterEach, describe, expect, it } from 'vitest';
import { createMockUpstream, type MockUpstream } from './index.js';
import type { RecordedRequest } from './request-log.js';

let mock: MockUpstream | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

const post = (url: string, text: string): Promise<Response> =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });

describe('the mock upstream’s request log', () => {
  it('answers GET /__mock/requests after a body nested 5,000 levels deep, that body as its raw text', async () => {
    mock = createMockUpstream({ latencyMs: 0, outputTokens: 5 });
    const url = await mock.listen(0, '127.0.0.1');
    const shallow = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    // Written as text: the test's own JSON.stringify would overflow as the mock's did.
    const deep = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"metadata":${'['.repeat(5_000)}${']'.repeat(5_000)}}`;
    expect((await post(url, shallow)).status).toBe(200);
    await (await post(url, deep)).text();

    const res = await fetch(`${url}/__mock/requests`);
    expect(res.status).toBe(200);
    const logged = (await res.json()) as RecordedRequest[];
    expect(logged.map((r) => r.path)).toEqual(['/v1/chat/completions', '/v1/chat/completions']);
    expect(logged[0]!.body).toEqual(JSON.parse(shallow)); // the others keep their parsed body
    expect(logged[1]).toMatchObject({ body: deep, text: deep });
    // Still up, and answering.
    expect((await post(url, shallow)).status).toBe(200);
  });
});
