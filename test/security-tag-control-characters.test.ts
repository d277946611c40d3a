// Regression from a security audit: tag values took C1 control characters (U+0080-U+009F) into the ledger,
// from `metadata` and from raw `x-tollgate-tags` bytes, and `tollgate usage --by tag:x` printed them to the
// admin's terminal, where U+009B is CSI and U+009D OSC (VTE and xterm read them in UTF-8): a caller could
// clear the screen, retitle the terminal or hide rows of the report. Only C0 controls and DEL were kept out.
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { chat, useUsageGateway } from './helpers/usage-gateway.js';

const config = (ledger: string): string => `
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock, output_tokens: 5}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys: [{id: alice, key: tg-alice-tags, user: alice}]
`;

/** Sends a call whose `x-tollgate-tags` header is the given raw bytes (fetch would refuse or re-encode them). */
function callWithRawTagHeader(url: string, tagBytes: Buffer): Promise<{ status: number; requestId: string }> {
  const { hostname, port } = new URL(url);
  const body = JSON.stringify({ model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer tg-alice-tags\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\nx-tollgate-tags: `;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(Buffer.concat([Buffer.from(head), tagBytes, Buffer.from(`\r\n\r\n${body}`)])));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(answer.split(' ')[1]), requestId: /x-tollgate-request-id: (\S+)/i.exec(answer)?.[1] ?? '' }));
  });
}

describe('C1 control characters in tags', () => {
  const gateway = useUsageGateway(config);

  async function tagsOf(requestId: string): Promise<Record<string, string>> {
    await gateway().usage.writer.flush();
    const [row] = await gateway().usage.ledger.rows({ requestIds: [requestId] });
    return row.tags;
  }

  it('are refused in x-tollgate-tags, as C0 controls are', async () => {
    // `feature=a<CSI>2J<OSC>0;owned<ST>`: clear screen, set the window title.
    const res = await callWithRawTagHeader(gateway().url, Buffer.from('feature=a\x9b2J\x9d0;owned\x9c', 'latin1'));
    expect(res.status).toBe(400);
  });

  it('still accept a UTF-8 header value (whose bytes include 0x80-0x9F), recorded as the text it is', async () => {
    const res = await callWithRawTagHeader(gateway().url, Buffer.from('feature=café €', 'utf8'));
    expect(res.status).toBe(200);
    expect(await tagsOf(res.requestId)).toEqual({ feature: 'café €' });
  });

  it('are recorded as spaces in metadata, as C0 controls are', async () => {
    const res = await chat(gateway().url, 'tg-alice-tags', { model: 'gpt-4o', max_tokens: 5, metadata: { feature: 'a\u009b2J\u009d0;owned\u0007b' } });
    expect(res.status).toBe(200);
    expect(await tagsOf(res.headers.get('x-tollgate-request-id')!)).toEqual({ feature: 'a 2J 0;owned b' });
  });
});
