// Besides the sampling parameters, API version 2026-10-21 refuses two kinds of content on the Messages API
// and token counting (platform.claude.com/docs/en/api/migration-2026-10-21): a document block placed directly
// in an assistant message, and a text block in a user message with non-empty `citations` (the citations
// Claude returns are still echoed back on the assistant's own text). The mock upstream took both under every
// version, so a client of the SDK 1.x (which sends 2026-10-21) could not meet here what Anthropic answers.
import { describe, expect, it } from 'vitest';
import { useMockUpstream } from './helpers/mock-upstream-hooks.js';

const mock = useMockUpstream();

const MODEL = 'claude-sonnet-4-5';
const PDF = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The sky is blue.' } };
const CITATION = { type: 'char_location', cited_text: 'The sky is blue.', document_index: 0, start_char_index: 0, end_char_index: 16 };

async function send(version: string, messages: unknown[], path = '/v1/messages'): Promise<{ status: number; message?: string }> {
  const res = await fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': version },
    body: JSON.stringify({ model: MODEL, max_tokens: 10, messages }),
  });
  const body = (await res.json()) as { error?: { type: string; message: string } };
  if (res.status !== 200) expect(body.error?.type).toBe('invalid_request_error');
  return { status: res.status, message: body.error?.message };
}

const assistantDocument = [
  { role: 'user', content: 'Read this.' },
  { role: 'assistant', content: [PDF] },
  { role: 'user', content: 'Well?' },
];
const userCitations = (citations: unknown) => [{ role: 'user', content: [{ type: 'text', text: 'The sky is blue.', citations }] }];

describe('API version 2026-10-21 at the mock upstream', () => {
  it('refuses a document block in an assistant message, on messages and token counting', async () => {
    for (const path of ['/v1/messages', '/v1/messages/count_tokens']) {
      const refused = await send('2026-10-21', assistantDocument, path);
      expect(refused.status).toBe(400);
      expect(refused.message).toMatch(/^messages\.1\.content\.0: .*document.*assistant/);
    }
  });

  it('refuses non-empty citations on a text block in a user message', async () => {
    const refused = await send('2026-10-21', userCitations([CITATION]));
    expect(refused.status).toBe(400);
    expect(refused.message).toMatch(/^messages\.0\.content\.0\.citations: /);
  });

  it('takes what the version still allows: empty or null citations, documents from the user, citations on the assistant’s text', async () => {
    expect((await send('2026-10-21', userCitations([]))).status).toBe(200);
    expect((await send('2026-10-21', userCitations(null))).status).toBe(200);
    expect((await send('2026-10-21', [{ role: 'user', content: [PDF, { type: 'text', text: 'Summarise.' }] }])).status).toBe(200);
    const echoed = [
      { role: 'user', content: [PDF, { type: 'text', text: 'Colour?' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Blue.', citations: [CITATION] }] },
      { role: 'user', content: 'Thanks.' },
    ];
    expect((await send('2026-10-21', echoed)).status).toBe(200);
  });

  it('takes both under 2023-06-01', async () => {
    expect((await send('2023-06-01', assistantDocument)).status).toBe(200);
    expect((await send('2023-06-01', userCitations([CITATION]))).status).toBe(200);
  });
});
