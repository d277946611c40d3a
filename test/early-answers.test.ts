// Answers the gateway sends before it has read the body (a 401 checked from the headers, a 413 on the
// Content-Length) while the client is still uploading: the official SDK must get them as the errors
// they are, not as a broken connection (EPIPE before the answer was read, then a retried upload).
// The gateway runs in its own process, as in production: in the test's process the client's writes and
// the gateway's close took turns on one event loop, and the race did not happen.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const MAX_BODY = 64 * 1024;
let gateway: RunningProcess;

beforeAll(async () => {
  const config = writeConfig(`
server: {max_body_bytes: ${MAX_BODY}}
ledger: {enabled: false}
providers:
  demo: {type: mock, latency_ms: 0, output_tokens: 5}
users:
  t: {daily_limit: 1000000}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys: [{id: alice, key: tg-alice, user: alice, tier: t}]
`);
  gateway = await startCli(['serve', '--config', config, '--host', '127.0.0.1', '--port', '0']);
});
afterAll(async () => {
  await gateway?.stop();
});

describe('answers sent while the client is still uploading', () => {
  const sdk = (key: string): OpenAI => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 });
  // 128 times the limit. Closed at once under the upload, most of these failed with EPIPE.
  const huge = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'word '.repeat((128 * MAX_BODY) / 5) }] };

  it('reach the official SDK as the 413 or the 401 they are', async () => {
    for (let i = 0; i < 4; i++) {
      const tooLarge = await sdk('tg-alice').chat.completions.create(huge).catch((err: unknown) => err);
      expect(tooLarge).toBeInstanceOf(OpenAI.APIError);
      expect(tooLarge).toMatchObject({ status: 413, code: 'body_too_large' });
      const wrongKey = await sdk('tg-nobody').chat.completions.create(huge).catch((err: unknown) => err);
      expect(wrongKey).toBeInstanceOf(OpenAI.AuthenticationError);
    }
  });
});
